"""Findings the user chose not to see: inline comments and the allow-list.

Inline, where the format has comments (YAML, TOML)::

    learning_rate: 3.0e-4  # lrdoctor: ignore[LRD002]
    CartPole-v1:  # lrdoctor: ignore[constant-lr-recurrent, LRD012]
    # lrdoctor: ignore

Codes, slugs or prefixes go in brackets; without brackets every code is ignored.
The comment works on the finding's line, on the unit's first line (the env-id key of
a zoo entry, the first key of a file), or alone on the line just above that one.

Allow-list, ``allow = [...]`` in ``[tool.lrdoctor]``: each entry is a glob matched
against the file's path as printed (``configs/legacy/*.yml``), optionally followed by
``:`` and a glob of unit names (``hyperparams/ppo_lstm.yml:CartPole*``). A matching
unit is not reported at all.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Iterable

from lrdoctor.errors import InputError
from lrdoctor.rules import resolve

_COMMENT = re.compile(r"#\s*lrdoctor:\s*ignore\b(?:\[([^\]]*)\])?", re.IGNORECASE)
_ALL = "*"


def suppressed_codes(line: str) -> set[str]:
    """The codes a line's ``# lrdoctor: ignore[...]`` comment names; {"*"} for all; empty if none."""
    codes: set[str] = set()
    for match in _COMMENT.finditer(line):
        names = [n.strip() for n in (match.group(1) or "").split(",") if n.strip()]
        if match.group(1) is None:
            codes.add(_ALL)
            continue
        for name in names:
            try:
                codes |= resolve([name])
            except InputError:
                continue  # an unknown name suppresses nothing; the finding stays visible
    return codes


def is_suppressed(code: str, lines: tuple[str, ...], finding_line: int, unit_line: int) -> bool:
    candidates = {finding_line, unit_line}
    above = unit_line - 1
    if 1 <= above <= len(lines) and lines[above - 1].lstrip().startswith("#"):
        candidates.add(above)
    for number in candidates:
        if 1 <= number <= len(lines):
            codes = suppressed_codes(lines[number - 1])
            if _ALL in codes or code in codes:
                return True
    return False


def is_allowed(file: str, unit: str, allow: Iterable[str]) -> bool:
    path = file.replace("\\", "/").removeprefix("./")
    for entry in allow:
        pattern, _, unit_pattern = entry.partition(":")
        pattern = pattern.replace("\\", "/").removeprefix("./")
        if fnmatchcase(path, pattern) and (not unit_pattern or fnmatchcase(unit, unit_pattern)):
            return True
    return False
