"""lrdoctor's version, as the installed package's metadata says (pyproject.toml is its one source).

Cache entries are keyed on it, and reports name it; it is read here, not from the package's
``__init__``, so no module depends on the order in which the package loads.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("lrdoctor")
except PackageNotFoundError:  # run from a checkout that was never installed: no cache entry can be trusted
    VERSION = "0+unknown"
