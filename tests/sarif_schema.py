"""Test helper: the official SARIF 2.1.0 JSON schema (OASIS), which the SARIF tests validate against.

It is not vendored into the project: the reference copy lives in a ``shared/data`` folder
beside the checkout (``../shared/data`` from the project root, or from any folder above it,
as in a worktree), or wherever ``LRDOCTOR_SARIF_SCHEMA`` points. Where none is found the
test skips and says where it looked and how to point it at a copy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

NAME = "sarif-schema-2.1.0.json"
REPO = Path(__file__).resolve().parents[1]


def schema_path() -> Path | None:
    given = os.environ.get("LRDOCTOR_SARIF_SCHEMA")
    candidates = [Path(given)] if given else [parent / "shared" / "data" / NAME for parent in REPO.parents]
    return next((path for path in candidates if path.is_file()), None)


def sarif_schema() -> dict:
    path = schema_path()
    if path is None:
        pytest.skip(
            f"SARIF 2.1.0 schema not found (looked for shared/data/{NAME} above {REPO}); it is not vendored:"
            " set LRDOCTOR_SARIF_SCHEMA to a copy of the OASIS schema to run this test"
        )
    return json.loads(path.read_text())
