"""A real S3 API on 127.0.0.1 for the object-storage tests: moto's server on a free port, the
AWS variables pointing at it (the backend's own chain: nothing lrdoctor-specific) and an s3fs
client; stopped, and the environment restored, on exit."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

SECRET = "testing-secret-never-shown"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def moto_s3(bucket: str) -> Iterator:
    """An s3fs client of a fresh moto server holding the empty ``bucket``."""
    import s3fs
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server.start()
    host, port = server.get_host_and_port()
    saved = dict(os.environ)
    os.environ.update({
        "AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1",
    })
    # fsspec keeps one client per set of options: one made for an earlier server would call it.
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        fs = s3fs.S3FileSystem(skip_instance_cache=True)
        fs.mkdir(bucket)
        yield fs
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


class FetchCounter:
    """Every ranged read s3fs makes in this process (``cat_file``, which lrdoctor's copies use),
    and the bytes each returned: what a read cost, counted where the bytes arrive."""

    def __init__(self, monkeypatch):
        import s3fs

        self.reads: list[tuple[str, int]] = []
        original = s3fs.S3FileSystem._cat_file

        async def counted(fs, path, *args, **kwargs):
            data = await original(fs, path, *args, **kwargs)
            self.reads.append((path, len(data)))
            return data

        monkeypatch.setattr(s3fs.S3FileSystem, "_cat_file", counted)
        # A client binds its sync methods when it is made: the ones made from now on count.
        s3fs.S3FileSystem.clear_instance_cache()

    def bytes_of(self, name: str) -> int:
        """Bytes fetched of the objects whose path ends with ``name``."""
        return sum(size for path, size in self.reads if path.endswith(name))
