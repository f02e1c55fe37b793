"""A baseline: the findings a repository already has, so the gate fails only on new ones.

``lrdoctor check . --write-baseline .lrdoctor-baseline.json`` records every finding;
``lrdoctor check . --baseline .lrdoctor-baseline.json`` then reports only findings that are
not in it (as ruff's and mypy's users expect). A finding is known by a fingerprint that
survives edits which move it: its file, code, unit and the config key at fault, never its
line or its message's numbers. Each fingerprint is counted: a second identical finding in
the same place is new.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from lrdoctor.configs.loaders import Skipped, read_text
from lrdoctor.errors import InputError
from lrdoctor.model import Finding, finding_unit
from lrdoctor.words import display

FORMAT = "lrdoctor-baseline"
VERSION = 1


def fingerprint(finding: Finding) -> str:
    """Stable across line moves: file, code, unit and key, hashed."""
    parts = [finding.file or finding.run or "", finding.code, finding_unit(finding) or "",
             str(finding.evidence.get("key") or finding.evidence.get("kind") or "")]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:20]


def render(findings: Iterable[Finding]) -> str:
    entries = sorted(
        ({"fingerprint": fingerprint(f), "file": f.file, "code": f.code, "unit": finding_unit(f) or "",
          "key": f.evidence.get("key")} for f in findings),
        key=lambda e: (e["file"] or "", e["code"], e["unit"], str(e["key"]), e["fingerprint"]),
    )
    return json.dumps({"format": FORMAT, "version": VERSION, "findings": entries}, indent=2) + "\n"


@dataclass(frozen=True)
class Baseline:
    counts: Mapping[str, int]

    def new(self, findings: Iterable[Finding]) -> tuple[list[Finding], int]:
        """The findings not in the baseline, and how many were in it."""
        left = Counter(self.counts)
        fresh, known = [], 0
        for finding in findings:
            key = fingerprint(finding)
            if left[key] > 0:
                left[key] -= 1
                known += 1
            else:
                fresh.append(finding)
        return fresh, known


def load(path: Path) -> Baseline:
    """A baseline file; InputError (exit 2) when it is missing or not one."""
    try:
        data = json.loads(read_text(path))
    except (OSError, Skipped, ValueError) as error:
        raise InputError(f"{display(str(path))}: not a baseline lrdoctor can read ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("findings"), list):
        raise InputError(f"{display(str(path))}: not an lrdoctor baseline (write one with --write-baseline)")
    counts = Counter(str(e.get("fingerprint")) for e in data["findings"] if isinstance(e, dict))
    return Baseline(counts)


def is_baseline(path: Path) -> bool:
    """Whether a JSON file is a baseline (it is never judged as a config)."""
    if path.suffix.lower() != ".json":
        return False
    try:
        head = read_text(path)[:200]
    except (OSError, Skipped):
        return False
    return f'"format": "{FORMAT}"' in head
