"""``lrdoctor check``: lint training configs (YAML, JSON, TOML) before a GPU is spent.

The public entry points are ``check_paths`` (files and directories to a
``CheckResult``) and ``check_text`` (one file's text, for tests and editors).
"""

from lrdoctor.check.lint import (
    CheckResult,
    check_paths,
    check_text,
    discover,
)

__all__ = ["CheckResult", "check_paths", "check_text", "discover"]
