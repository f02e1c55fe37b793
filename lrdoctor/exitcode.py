"""The exit code of every command, decided in one place from the findings and ``--fail-on``.

0: nothing at or above the fail-on level; 1: findings at or above it;
2: a usage or input error (raised as ``InputError`` and turned into 2 by the CLI).
CI scripts depend on these numbers, so they live here and nowhere else.
"""

from __future__ import annotations

from enum import Enum
from typing import Iterable

from lrdoctor.model import Finding, Severity

CLEAN = 0
FINDINGS = 1
INPUT_ERROR = 2


class FailOn(str, Enum):
    """The lowest severity that fails the command; ``never`` always exits 0 on findings."""

    error = "error"
    warning = "warning"
    never = "never"


def exit_code(findings: Iterable[Finding], fail_on: FailOn | str) -> int:
    """CLEAN or FINDINGS for these findings; ``fail_on`` is a FailOn or its value."""
    level = FailOn(fail_on)
    if level is FailOn.never:
        return CLEAN
    floor = Severity(level.value).rank
    failing = any(Severity(f.severity).rank >= floor for f in findings)
    return FINDINGS if failing else CLEAN
