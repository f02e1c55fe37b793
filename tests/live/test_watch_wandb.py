"""watch follows a W&B run directory while its .wandb file is written: the real file of
tests/real_sinks appended a piece at a time, cuts falling mid-record."""

from __future__ import annotations

import os
from pathlib import Path

from lrdoctor.live import watch
from lrdoctor.read import ingest
from lrdoctor.rules.options import load_options

ROOT = Path(__file__).parents[2]
(WANDB_FILE,) = (ROOT / "tests" / "real_sinks" / "wandb").glob("offline-run-*/run-*.wandb")


def test_watch_follows_a_wandb_run_as_it_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    data = WANDB_FILE.read_bytes()
    run = tmp_path / "wandb" / WANDB_FILE.parent.name
    run.mkdir(parents=True)
    target = run / WANDB_FILE.name
    settings = watch.Settings(options=load_options(cwd=ROOT / "tests"))
    state = watch.WatchState()
    last_steps = []
    for end in (len(data) // 5, len(data) // 2 + 777, len(data) * 4 // 5 + 3, len(data)):
        with open(target, "ab") as handle:  # appended, as the writer does
            handle.write(data[os.path.getsize(target) if target.exists() else 0 : end])
        state, _new = watch.poll(state, [tmp_path], settings)
        (live,) = state.runs.values()
        assert live.found.name == f"wandb/{WANDB_FILE.parent.name}"
        last_steps.append(live.result.run.last_step)
        # the tail the writer has not finished is read whole by the next pass: no news (analyze says it)
        assert not [note for note in state.fresh_notes if "last record cut" in note.message]
    assert last_steps == sorted(last_steps) and len(set(last_steps)) == len(last_steps)
    quiet, _ = watch.poll(state, [tmp_path], settings)
    assert quiet.changed == ()  # nothing new written: not read again
    (finished,) = ingest.load(tmp_path, use_cache=False).runs
    assert finished.last_step == last_steps[-1] == 16384
