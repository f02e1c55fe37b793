import os

import pytest

from lrdoctor.discover import discover, write_order
from writers import synthetic_collapse, write_run


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
