"""Writing reports and figures where the user asked, atomically.

A temporary file beside the target, then a rename: an interrupted run never
leaves a half-written report behind. A training log (an event file or a
progress.csv) is never the target: ``-o`` pointed at one by mistake would
replace the run it came from with a report.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lrdoctor.errors import InputError
from lrdoctor.read.discover import is_training_log
from lrdoctor.words import display


def write_atomic(path: Path, content: str | bytes) -> None:
    path = Path(path)
    if is_training_log(path.name):
        raise InputError(f"{display(str(path))}: a training log (event file or progress.csv); lrdoctor never writes over one")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except FileExistsError:  # mkdir's answer when the directory named is a file
        raise InputError(f"{path.parent}: not a directory, cannot write {path.name} into it") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8") if isinstance(content, str) else content)
        # mkstemp creates 0600; a report should get the permissions any new file gets.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
