"""CRC-32C, the checksum of every TFRecord: the ``crc32c`` package's C function, loaded
without running that package's ``__init__``. The ``__init__`` only adds a version string and
a command line, and getting the version imports ``importlib.metadata`` and reads the
package's metadata. That costs 20-40 ms in every process that reads event files, more than
decoding a small run. If the package is laid out in another way, it is imported as usual."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from typing import Callable


def _load() -> Callable[..., int]:
    if "crc32c" in sys.modules:  # already paid for
        return sys.modules["crc32c"].crc32c
    try:
        package = importlib.util.find_spec("crc32c")  # finds it; does not run it
        spec = importlib.machinery.PathFinder.find_spec("crc32c._crc32c", package.submodule_search_locations)
        extension = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(extension)
        return extension.crc32c
    except Exception:  # another layout or version: the package's own way
        import crc32c as package

        return package.crc32c


crc32c = _load()
