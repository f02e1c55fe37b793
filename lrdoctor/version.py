"""lrdoctor's version: its one source (pyproject.toml reads it from here, ``[tool.setuptools.dynamic]``).

Cache entries are keyed on it, and reports name it. A plain string, not the installed
package's metadata: ``importlib.metadata`` costs every command a fiftieth of a second at
start-up. It lives here, not in the package's ``__init__``, so no module depends on the
order in which the package loads.
"""

VERSION = "0.1.0"
