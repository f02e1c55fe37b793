"""Test helper: import a committed script (a corpus generator, a benchmark, an example) by its
path, as its own module: scripts are not a package, and running one would start its work."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_script(path: Path) -> ModuleType:
    """The module at ``path``, registered under its file name while it loads (dataclasses look
    their module up in ``sys.modules``)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
