import os

import pytest
from writers import synthetic_collapse, write_run

from lrdoctor.read.discover import discover, write_order


def test_runs_at_any_depth_named_relative_to_the_argument(tmp_path):
    steps, metrics = synthetic_collapse(5)
    write_run(tmp_path / "sweep" / "a" / "PPO_1", "sb3", steps, {"kl": metrics["kl"]})
    write_run(tmp_path / "sweep" / "b" / ".summary" / "0", "sample_factory", steps, {"kl": metrics["kl"]})
    (tmp_path / "sweep" / "c").mkdir()
    (tmp_path / "sweep" / "c" / "progress.csv").write_text("time/total_timesteps\n1\n")
    found = discover(tmp_path / "sweep")
    assert [run.name for run in found.runs] == ["a/PPO_1", "b/.summary/0", "c"]
    assert found.runs[2].progress_csv is not None and not found.problems


def test_the_argument_itself_is_the_run(tmp_path):
    steps, metrics = synthetic_collapse(5)
    event_file = write_run(tmp_path / "RecurrentPPO_1", "sb3", steps, {"kl": metrics["kl"]})
    assert [r.name for r in discover(tmp_path / "RecurrentPPO_1").runs] == ["RecurrentPPO_1"]
    (single,) = discover(event_file).runs
    assert single.event_files == (event_file,)


def test_event_files_in_write_order():
    names = ["events.out.tfevents.1700000200.h", "events.out.tfevents.999.h", "events.out.tfevents.1700000100.h"]
    assert write_order(names) == [names[1], names[2], names[0]]


def test_missing_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        discover(tmp_path / "nope")


def test_symlink_loop_reported_not_fatal(tmp_path):
    (tmp_path / "a").mkdir()
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    found = discover(tmp_path)
    assert any("symlink loop" in p.message for p in found.problems)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every directory")
def test_unreadable_directory_reported(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        assert any("cannot read directory" in p.message for p in discover(tmp_path).problems)
    finally:
        locked.chmod(0o755)


def test_non_utf8_names_and_many_empty_dirs(tmp_path):
    for index in range(2000):
        (tmp_path / f"empty{index}").mkdir()
    odd = os.path.join(os.fsencode(tmp_path), b"run-\xff")
    os.mkdir(odd)
    steps, metrics = synthetic_collapse(3)
    write_run(os.fsdecode(odd), "sb3", steps, {"kl": metrics["kl"]})
    (run,) = discover(tmp_path).runs
    assert run.name == "run-\ufffd" and run.path.exists()


# --- add_hparams subdirectories ----------------------------------------------------------


def write_with_hparams(logdir, steps, kl, hparams):
    """One tensorboardX writer logs CleanRL's KL tag, then calls the real add_hparams, which
    opens a second writer in logdir/str(time.time())."""
    from tensorboardX import SummaryWriter

    with SummaryWriter(str(logdir)) as writer:
        for step, value in zip(steps, kl):
            writer.add_scalar("losses/approx_kl", float(value), int(step))
        writer.add_hparams(hparams, {"hparam/return": 1.0})
    (subdir,) = [p for p in logdir.iterdir() if p.is_dir()]
    return subdir


def test_add_hparams_subdirectory_is_part_of_its_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    from lrdoctor.read.ingest import load_runs

    steps, metrics = synthetic_collapse(20)  # SYNTHETIC
    subdir = write_with_hparams(tmp_path / "sweep" / "run_a", steps, metrics["kl"], {"rnn_type": "gru", "learning_rate": 3e-4})
    assert float(subdir.name) > 1e9  # the name add_hparams chose: str(time.time())
    (run,) = discover(tmp_path / "sweep").runs
    assert run.name == "run_a" and len(run.event_files) == 2
    assert any(path.parent == subdir for path in run.event_files)
    (loaded,) = load_runs(tmp_path / "sweep", use_cache=False)
    assert loaded.architecture.kind == "gru" and "hparams" in loaded.architecture.source
    assert loaded.config.lr.value == 3e-4
    assert len(loaded.metrics["kl"]) == 20


def test_a_real_run_in_a_time_named_subdirectory_stays_a_run(tmp_path):
    steps, metrics = synthetic_collapse(100)  # SYNTHETIC
    write_run(tmp_path / "sweep" / "run_a", "cleanrl", steps, {"kl": metrics["kl"]})
    # a child run named like a timestamp: scalars only, and one that also logged hparams in its own file
    write_run(tmp_path / "sweep" / "run_a" / "1700000000.5", "cleanrl", steps, {"kl": metrics["kl"]})
    write_run(tmp_path / "sweep" / "run_a" / "1700000001.5", "cleanrl", steps, {"kl": metrics["kl"]}, hparams={"lr": 1e-4})
    names = [run.name for run in discover(tmp_path / "sweep").runs]
    assert names == ["run_a", "run_a/1700000000.5", "run_a/1700000001.5"]


def test_an_add_hparams_directory_given_alone_is_a_run(tmp_path):
    steps, metrics = synthetic_collapse(5)  # SYNTHETIC
    subdir = write_with_hparams(tmp_path / "run_a", steps, metrics["kl"], {"lr": 1e-4})
    (run,) = discover(subdir).runs
    assert run.path == subdir


def test_a_system_directory_is_not_entered_under_any_name(tmp_path, monkeypatch):
    """Walking from / reaches /proc as a plain directory, not a link: it is known by its identity."""
    from lrdoctor.read import discover as discovery

    steps, metrics = synthetic_collapse(5)
    write_run(tmp_path / "run", "sb3", steps, {"kl": metrics["kl"]})
    write_run(tmp_path / "proc" / "inside", "sb3", steps, {"kl": metrics["kl"]})
    info = (tmp_path / "proc").stat()
    monkeypatch.setattr(discovery, "_system_identities", lambda: {(info.st_dev, info.st_ino)})
    found = discover(tmp_path)
    assert [run.name for run in found.runs] == ["run"]
    assert [(p.path, p.message) for p in found.problems] == [
        (str(tmp_path / "proc"), "a system directory: not searched")]
