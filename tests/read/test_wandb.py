"""The .wandb reader, pinned on files the real wandb client wrote (tests/real_sinks), and on
synthetic logs (tests/writers.py, labelled) for shapes the real run has not: a record across
blocks, PufferLib's keys, a stranger's key names."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner
from writers import wandb_config, wandb_history, wandb_log

from lrdoctor.cli import app
from lrdoctor.errors import UnreadableFile
from lrdoctor.read.wandb import BLOCK, read_wandb_file, wandb_scalars

SINKS = Path(__file__).parents[1] / "real_sinks"
(WANDB_FILE,) = (SINKS / "wandb").glob("offline-run-*/run-*.wandb")
(TRUNCATED,) = (SINKS / "wandb_truncated").glob("offline-run-*/run-*.wandb")
(TB_RUN,) = (SINKS / "runs").iterdir()
EVERYTHING = re.compile(".*")


def test_the_real_file_read_whole():
    data = read_wandb_file(WANDB_FILE)
    assert not data.notes and data.end_offset == WANDB_FILE.stat().st_size
    assert data.display_name == TB_RUN.name and WANDB_FILE.name == f"run-{data.run_id}.wandb"
    assert data.config["exp_name"] == "ppo" and data.config["learning_rate"] == 2.5e-4
    assert data.config["target_kl"] is None and not any(key.startswith("_wandb") for key in data.config)
    assert [row["_step"] for row in data.rows] == list(range(len(data.rows)))  # W&B's own row counter


def test_a_file_cut_mid_record_reads_to_its_last_whole_record():
    whole, cut = read_wandb_file(WANDB_FILE), read_wandb_file(TRUNCATED)
    assert 0 < len(cut.rows) < len(whole.rows) and cut.rows == whole.rows[: len(cut.rows)]
    (note,) = cut.notes
    assert note.offset == cut.end_offset < TRUNCATED.stat().st_size
    assert "last record cut" in note.message and f"after byte {cut.end_offset:,}" in note.message


@pytest.mark.parametrize("fraction", [0.001, 0.1, 0.18, 0.37, 0.5, 0.63, 0.81, 0.99])
def test_any_prefix_is_a_prefix_of_the_rows(tmp_path, fraction):
    data = WANDB_FILE.read_bytes()
    path = tmp_path / "run-x.wandb"
    path.write_bytes(data[: int(len(data) * fraction)])
    whole, cut = read_wandb_file(WANDB_FILE), read_wandb_file(path)
    assert cut.rows == whole.rows[: len(cut.rows)]
    assert all("last record cut" in note.message or "no whole header" in note.message for note in cut.notes)


def test_a_damaged_chunk_is_skipped_to_the_next_block(tmp_path):
    data = bytearray(WANDB_FILE.read_bytes())
    assert len(data) > 3 * BLOCK
    data[BLOCK + 1000] ^= 0xFF  # a byte inside the second block
    path = tmp_path / "run-x.wandb"
    path.write_bytes(bytes(data))
    whole, damaged = read_wandb_file(WANDB_FILE), read_wandb_file(path)
    assert any("fails its CRC" in note.message for note in damaged.notes)
    assert len(whole.rows) - 100 < len(damaged.rows) < len(whole.rows)  # at most the ~70 rows of one block
    assert damaged.rows[-1] == whole.rows[-1]  # the blocks after it are read


@pytest.mark.parametrize("content, reason", [
    (b"not a wandb file at all", "not a W&B run file"),
    (b":W&B\xe1\xbe\x07" + b"\0" * 100, "version 7"),
])
def test_not_a_wandb_file(tmp_path, content, reason):
    path = tmp_path / "run-x.wandb"
    path.write_bytes(content)
    with pytest.raises(UnreadableFile, match=reason):
        read_wandb_file(path)


def test_an_empty_file_is_a_run_not_written_yet(tmp_path):
    path = tmp_path / "run-x.wandb"
    path.write_bytes(b":W&")
    assert read_wandb_file(path).notes[0].message == "nothing written yet (no whole header)"


def write_wandb_run(root: Path, rows: list[dict], config: dict | None = None, step_key: str = "_step") -> Path:
    """SYNTHETIC: a W&B run directory whose history is ``rows``."""
    run = root / "wandb" / "run-20260101_000000-synth01"
    run.mkdir(parents=True)
    records = [wandb_config(config or {})] + [wandb_history(row, index) for index, row in enumerate(rows)]
    (run / "run-synth01.wandb").write_bytes(wandb_log(records))
    return run / "run-synth01.wandb"


def test_a_record_across_blocks(tmp_path):
    """A config bigger than a block goes out as FIRST, MIDDLE..., LAST chunks."""
    path = write_wandb_run(tmp_path, [{"learning_rate": 3e-4, "agent_steps": 8192}],
                           {"notes": "x" * (3 * BLOCK), "learning_rate": 3e-4})
    data = read_wandb_file(path)
    assert not data.notes and data.config["notes"] == "x" * (3 * BLOCK) and len(data.rows) == 1


def pufferlib_rows(n: int, zero_prefix: bool) -> list[dict]:
    """SYNTHETIC: what PufferLib logs each epoch (3.x: top-level keys; 1.x: 0verview/ with a zero)."""
    rows = []
    for index in range(n):
        steps = 8192 * (index + 1)
        row = {"losses/approx_kl": 0.05 + 0.001 * index, "losses/entropy": 1.0 + 0.02 * index,
               "losses/clipfrac": 0.3, "losses/value_loss": 1.0, "losses/policy_loss": -0.01,
               "environment/score": 10.0 - 0.05 * index}
        if zero_prefix:
            row.update({"0verview/learning_rate": 3e-4, "0verview/agent_steps": steps})
        else:
            row.update({"learning_rate": 3e-4, "agent_steps": steps})
        rows.append(row)
    return rows


@pytest.mark.parametrize("zero_prefix", [False, True])
def test_pufferlib_keys(tmp_path, zero_prefix):
    write_wandb_run(tmp_path, pufferlib_rows(40, zero_prefix),
                    {"train": {"learning_rate": 3e-4, "use_rnn": True}, "rnn_name": "Recurrent"})
    result = CliRunner(env={"LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")}).invoke(
        app, ["analyze", str(tmp_path), "--format", "json", "--fail-on", "never"])
    (run,) = json.loads(result.stdout)["runs"]
    assert (run["library"], run["step_axis"], run["last_step"]) == ("pufferlib", "agent steps", 8192 * 40)
    lr = "0verview/learning_rate" if zero_prefix else "learning_rate"
    assert {m: run["metrics"][m]["tag"] for m in ("lr", "kl", "entropy", "episode_return")} == {
        "lr": lr, "kl": "losses/approx_kl", "entropy": "losses/entropy", "episode_return": "environment/score"}
    assert run["metrics"]["kl"]["estimator"] == "k3" and not run["metrics"]["entropy"]["negated"]
    assert run["lr_shape"]["kind"] == "constant"
    assert run["architecture"]["recurrent"] and "W&B config: train.use_rnn" in run["architecture"]["source"]
    assert "LRD002" in {finding["code"] for finding in run["findings"]}


def test_a_strangers_key_names_never_start_a_line(tmp_path):
    rows = [{"losses/approx_kl": 0.01, "global_step": 128 * (i + 1), "x\n[error] all good\r": 1.0} for i in range(10)]
    write_wandb_run(tmp_path, rows, {"exp_name": "ppo\nLRD000 fake"})
    result = CliRunner(env={"LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")}).invoke(
        app, ["analyze", str(tmp_path), "--verbose", "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    assert not any(line.lstrip().startswith(("[error]", "LRD000")) for line in result.output.splitlines())


def test_rows_without_the_step_key_are_said(tmp_path):
    rows = [{"losses/approx_kl": 0.01, "global_step": 128 * (i + 1)} for i in range(5)] + [{"losses/approx_kl": 0.5}]
    data = read_wandb_file(write_wandb_run(tmp_path, rows))
    scalars, _keys, step_key, notes = wandb_scalars(data, EVERYTHING, "run")
    assert step_key == "global_step" and scalars["losses/approx_kl"][0].tolist() == [128, 256, 384, 512, 640]
    assert np.allclose(scalars["losses/approx_kl"][1], 0.01)
    assert "1 history rows without a whole-number global_step" in notes[0].message


def test_discovery_skips_wandbs_latest_run_link(tmp_path):
    shutil.copytree(SINKS / "wandb", tmp_path / "wandb", symlinks=True)
    from lrdoctor.read.discover import discover

    found = discover(tmp_path)
    assert [run.name for run in found.runs] == [WANDB_FILE.parent.relative_to(SINKS).as_posix()]
    assert not found.problems


def test_values_that_are_no_metric(tmp_path):
    """SYNTHETIC: text, lists, media dicts, an integer past float64; NaN and Infinity are metrics."""
    rows = [{"a": "text", "b": [1, 2], "c": {"_type": "image-file", "size": 3}, "d": 10**400, "e": {"inner": 2.5},
             "f": float("nan"), "g": float("inf"), "h": True, "global_step": 64}]
    data = read_wandb_file(write_wandb_run(tmp_path, rows))
    (row,) = data.rows
    assert set(row) == {"e.inner", "f", "g", "global_step", "_step"} and np.isnan(row["f"]) and row["g"] == np.inf
    assert row["e.inner"] == 2.5 and row["global_step"] == 64


def test_rows_hold_only_the_wanted_keys_and_every_key_is_listed():
    full, wanted = read_wandb_file(WANDB_FILE), read_wandb_file(WANDB_FILE, re.compile(r"losses/approx_kl"))
    assert wanted.keys == full.keys and "charts/episodic_return" in wanted.keys
    assert all(set(row) <= {"losses/approx_kl", "global_step", "_step"} for row in wanted.rows)
    assert sum("losses/approx_kl" in row for row in wanted.rows) == 32


def test_a_resumed_run_is_one_run(tmp_path):
    """SYNTHETIC: PufferLib inits W&B with resume="allow"; a resumed run writes a second directory
    with the same id, its history going on from the step it resumed at (here 8192*20, re-logging
    the last five epochs of the first attempt, whose values the resumed one replaces)."""
    rows = pufferlib_rows(25, zero_prefix=False)
    first = tmp_path / "wandb" / "run-20260101_000000-resume1"
    later = tmp_path / "wandb" / "run-20260101_060000-resume1"
    for directory, part in ((first, rows), (later, [{**row, "losses/approx_kl": 0.5} for row in rows[19:]])):
        directory.mkdir(parents=True)
        (directory / "run-resume1.wandb").write_bytes(wandb_log([wandb_history(row, i) for i, row in enumerate(part)]))
    from lrdoctor.read.ingest import load

    (run,) = load(tmp_path, use_cache=False).runs
    assert run.name == "wandb/run-20260101_060000-resume1"
    steps, values = run.metrics.points("kl")
    assert steps.tolist() == [8192 * (i + 1) for i in range(25)]
    assert values[:19].tolist() == [0.05 + 0.001 * i for i in range(19)] and (values[19:] == 0.5).all()
    said = " ".join(note.message for note in run.notes)
    assert "resumed 1 time: its 2 directories are read as one run" in said and "resumes at step 163,840" in said


def test_typed_history_values(tmp_path):
    """SYNTHETIC: HistoryItem's typed fields (number: double, integer: sint64, boolean), which
    wandb_internal.proto defines beside value_json."""
    import struct

    from writers import _pb_field, _pb_varint

    def item(key: str, field_number: int, raw: bytes) -> bytes:
        return _pb_field(1, _pb_field(1, key.encode()) + _pb_varint(field_number << 3 | (1 if field_number == 6 else 0))
                         + raw)

    history = (item("losses/approx_kl", 6, struct.pack("<d", 0.0125)) + item("global_step", 5, _pb_varint(2 * 4096))
               + item("minus", 5, _pb_varint(2 * 7 - 1)) + item("flag", 4, _pb_varint(1)))
    path = tmp_path / "run-typed.wandb"
    path.write_bytes(wandb_log([_pb_field(2, history)]))
    (row,) = read_wandb_file(path).rows
    assert row == {"losses/approx_kl": 0.0125, "global_step": 4096.0, "minus": -7.0}
