"""``analyze`` and ``check`` read a config alike: one reader, one record, the same facts.

Each config of the check corpus is put beside a run as the config file analyze reads
there; the architecture, LR, schedule and warmup the run's metadata reports must be
those of the unit ``check`` judges (a file of several units: its first).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lrdoctor.configs.compose import read_document
from lrdoctor.configs.formats import read_unit
from lrdoctor.configs.loaders import read_text
from lrdoctor.configs.split import split_units
from lrdoctor.read.metadata import read_metadata

CORPUS = Path(__file__).resolve().parents[1] / "check_corpus"
CONFIGS = sorted(p for p in [*CORPUS.glob("*/*"), *CORPUS.glob("composed/*/*")]
                 if p.suffix in (".yaml", ".yml", ".json", ".toml"))
BESIDE_A_RUN = {".yaml": "config.yaml", ".yml": "config.yml", ".json": "config.json", ".toml": "config.toml"}


def checked_unit(path: Path):
    document = read_document(path, read_text(path))
    units = split_units(document)
    return read_unit(document, units[0], path.name) if units else None


def declared(setting):
    return setting.value if setting is not None and setting.declared else None


@pytest.mark.parametrize("path", CONFIGS, ids=[p.relative_to(CORPUS).as_posix() for p in CONFIGS])
def test_a_config_beside_a_run_reads_as_check_reads_it(tmp_path, path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(path, run / BESIDE_A_RUN[path.suffix])
    meta = read_metadata(run, run)
    record = checked_unit(path)
    assert not meta.notes
    config, arch = meta.config, meta.architecture
    if record is None:
        assert (arch.kind, config.lr, config.lr_schedule, config.warmup) == ("unknown", None, None, None)
        return
    assert arch.kind == (record.architecture.value if record.architecture else "unknown")
    assert arch.recurrent == record.recurrent
    assert (config.lr.value if config.lr else None) == declared(record.lr)
    assert (config.lr_schedule.value if config.lr_schedule else None) == declared(record.schedule_name)
    assert (config.warmup.value if config.warmup else None) == declared(record.warmup)


def test_the_corpus_is_read_at_all():
    """Most corpus units name a recurrent architecture and an LR: the comparison above is not vacuous."""
    records = [checked_unit(path) for path in CONFIGS]
    assert sum(r is not None and r.recurrent is True for r in records) >= 10
    assert sum(r is not None and r.lr is not None for r in records) >= 15


def test_a_hydra_config_beside_a_run_is_composed_as_check_composes_it(tmp_path):
    """A run's config.yaml that inherits through ``defaults:``: analyze reads the parent's
    adaptive schedule and the child's LSTM, as check does."""
    run = tmp_path / "run"
    shutil.copytree(CORPUS / "composed" / "isaacgym" / "cfg" / "train", run)
    (run / "HopperLSTMPPO.yaml").rename(run / "config.yaml")
    meta = read_metadata(run, run)
    record = checked_unit(run / "config.yaml")
    assert (meta.architecture.kind, record.architecture.value) == ("lstm", "lstm")
    assert meta.config.lr_schedule.value == record.schedule_name.value == "adaptive"
    assert meta.config.lr.value == record.lr.value == 1e-4


def test_isaac_labs_saved_agent_config_is_read_alike(tmp_path):
    """An rsl_rl run directory as Isaac Lab leaves it: params/agent.yaml beside the logs."""
    run = tmp_path / "anymal_c_rough"
    shutil.copytree(CORPUS / "composed" / "isaaclab" / "rsl_rl" / "anymal_c_rough", run)
    meta = read_metadata(run, run)
    record = checked_unit(run / "params" / "agent.yaml")
    assert not meta.notes
    assert meta.architecture.kind == record.architecture.value == "lstm"
    assert meta.config.lr.value == record.lr.value == 1e-3
    assert meta.config.lr_schedule.value == record.schedule_name.value == "adaptive"
