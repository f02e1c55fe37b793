"""The check corpus's README table is what ``lrdoctor check`` finds, file by file (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrdoctor.check import check_paths
from lrdoctor.rules.options import default_options

CORPUS = Path(__file__).resolve().parents[1] / "check_corpus"
SUFFIXES = (".yaml", ".yml", ".json", ".toml")


def table() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in (CORPUS / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[2], cells[3])
    return rows


TABLE = table()


def test_every_config_of_the_corpus_is_in_the_table():
    files = {p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*") if p.suffix in SUFFIXES
             and p.parts[len(CORPUS.parts)] != "ci"}
    assert files == set(TABLE)
    assert {verdict for verdict, _ in TABLE.values()} == {"pass", "fail", "not understood"}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_the_table_row_is_what_check_finds(name):
    findings = sorted(check_paths([CORPUS / name], default_options()).findings, key=lambda f: (f.line, f.code))
    verdict = ("fail" if any(f.severity.value in ("error", "warning") for f in findings)
               else "not understood" if findings else "pass")
    assert (verdict, ", ".join(f"{f.code}:{f.line}" for f in findings) or "none") == TABLE[name]
