"""Configs as Sample Factory and skrl themselves write or load them (tests/library_configs,
made by scripts/make_library_configs.py with the versions in its VERSIONS.json)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lrdoctor.check import check_paths
from lrdoctor.read.metadata import read_metadata
from lrdoctor.rules.options import default_options

CONFIGS = Path(__file__).resolve().parents[1] / "library_configs"
EXPECTED = {
    # Sample Factory's defaults: use_rnn on (a GRU) at a constant 1e-4
    "sample_factory/sf_defaults_gru/config.json": [("LRD002", 47)],
    # kl_adaptive_epoch starts at the full LR: no warmup on an LSTM
    "sample_factory/sf_lstm_kl_adaptive/config.json": [("LRD003", 47)],
    "sample_factory/sf_feedforward_constant/config.json": [],
    # skrl's instantiated networks are feed-forward: nothing to say at a constant or adaptive LR
    "skrl/skrl_ppo_kl_adaptive.yaml": [],
    "skrl/skrl_ppo_constant.yaml": [],
}


def test_every_generated_config_is_listed():
    found = {p.relative_to(CONFIGS).as_posix() for p in CONFIGS.rglob("*") if p.suffix in (".json", ".yaml")}
    assert found - {"VERSIONS.json"} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_findings_on_what_the_library_wrote(name):
    findings = check_paths([CONFIGS / name], default_options()).findings
    assert sorted((f.code, f.line) for f in findings) == EXPECTED[name]
    assert all(f.evidence["unit_name"] == Path(name).parent.name for f in findings)


def test_a_saved_default_kl_threshold_is_not_called_inert():
    """Sample Factory saves every default; only what cli_args holds was the user's choice."""
    findings = check_paths([CONFIGS / "sample_factory/sf_defaults_gru/config.json"], default_options()).findings
    assert "LRD012" not in {f.code for f in findings}


@pytest.mark.parametrize("name", [n for n in EXPECTED if n.startswith("sample_factory")])
def test_analyze_reads_a_saved_config_beside_its_run_as_check_does(tmp_path, name):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(CONFIGS / name, run / "config.json")
    meta = read_metadata(run, run)
    expected_kind = {"sf_defaults_gru": "gru", "sf_lstm_kl_adaptive": "lstm"}.get(Path(name).parent.name, "mlp")
    assert meta.architecture.kind == expected_kind
    assert meta.config.lr.value == (3e-4 if "lstm" in name else 1e-4)
