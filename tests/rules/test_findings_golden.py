"""The rules find today what they found before their numeric core was shared and vectorised:
the same findings, severities, steps, messages and evidence numbers, to the last bit, on real
runs and on a SYNTHETIC benchmark-shaped sweep (see tests/rules/findings_golden.py)."""

from __future__ import annotations

import json

import pytest

from tests.rules.findings_golden import GOLDEN, capture


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    return capture(tmp_path_factory.mktemp("golden-sweeps"))


def test_every_run_is_judged_as_before(judged):
    golden = json.loads(GOLDEN.read_text())
    assert sorted(judged) == sorted(golden)
    # Through JSON, as the golden file was written, so a float compares as the double it is.
    now = json.loads(json.dumps(judged))
    for name in golden:
        assert now[name] == golden[name], name


def test_the_golden_file_holds_findings_worth_comparing():
    golden = json.loads(GOLDEN.read_text())
    codes = {f["code"] for run in golden.values() for f in run["findings"]}
    assert {"LRD001", "LRD004", "LRD005", "LRD006", "LRD008", "LRD009"} <= codes
    assert any(name.startswith("second/synthetic/") and run["findings"] for name, run in golden.items())
