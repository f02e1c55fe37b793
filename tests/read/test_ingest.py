import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from script_loader import load_script
from writers import ENTROPY_SCALE, TAGS, synthetic_collapse, truncate, write_progress_csv, write_run, write_tags

from lrdoctor.errors import InputError
from lrdoctor.model import Extent
from lrdoctor.read.ingest import load, load_runs

ROOT = Path(__file__).resolve().parents[2]

SAMPLE_LOGS = ROOT / "sample_logs"

EXPECTED = {  # writer name -> (library, step axis)
    "sb3": ("sb3", "env steps"),
    "recurrent_ppo": ("sb3", "env steps"),
    "cleanrl": ("cleanrl", "env steps"),
    "rllib_old": ("rllib", "timesteps_total"),
    "rllib_new": ("rllib", "timesteps_total"),
    "sample_factory": ("sample-factory", "env steps"),
    "rl_games": ("rl_games", "frames"),
    "skrl": ("skrl", "timesteps"),
    "tianshou": ("tianshou", "update steps"),
    "torchrl": ("torchrl", "frames"),
    "npp_rl": ("npp-rl", "env steps"),
}


@pytest.mark.parametrize("writer_name", sorted(EXPECTED))
def test_each_library_read_with_plus_h_entropy(tmp_path, writer_name):
    steps, metrics = synthetic_collapse(20)
    written = {m: v for m, v in metrics.items() if m in TAGS[writer_name]}
    write_run(tmp_path / "run", writer_name, steps, written)
    (run,) = load_runs(tmp_path / "run")
    assert (run.library, run.step_axis) == EXPECTED[writer_name]
    assert set(run.metrics) == set(written)
    scale = ENTROPY_SCALE if abs(TAGS[writer_name]["entropy"][1]) != 1 else 1.0
    np.testing.assert_allclose(run.metrics["entropy"].to_numpy(), metrics["entropy"] * scale, rtol=1e-6)
    assert run.metrics["entropy"].index.tolist() == steps.tolist()
    assert run.lr_shape.kind == ("constant" if "lr" in written else "not-logged")


def test_resumed_run_in_two_files(tmp_path):
    steps = np.arange(1, 11) * 1000
    lr = np.full(10, 3e-4)
    write_run(tmp_path, "sb3", steps[:7], {"lr": lr[:7], "kl": np.full(7, 0.01)}, suffix=".0")
    write_run(tmp_path, "sb3", steps[5:], {"lr": lr[5:], "kl": np.full(5, 0.03)}, suffix=".1")
    (run,) = load_runs(tmp_path)
    assert run.name == tmp_path.name
    assert run.metrics["kl"].index.tolist() == steps.tolist()
    np.testing.assert_allclose(run.metrics["kl"].to_numpy(), [0.01] * 5 + [0.03] * 5, rtol=1e-6)


def test_truncated_file_keeps_complete_records_and_says_so(tmp_path):
    steps, metrics = synthetic_collapse(30)
    event_file = write_run(tmp_path, "sb3", steps, {"kl": metrics["kl"]})
    truncate(event_file, 5)
    (run,) = load_runs(tmp_path)
    assert len(run.metrics["kl"]) == 29
    assert any("bytes skipped" in note.message for note in run.notes)


def test_cleanrl_text_table_run(tmp_path):
    run_dir = tmp_path / "runs" / "BreakoutNoFrameskip-v4__ppo_atari_lstm__1__1700000000"
    steps = np.arange(1, 21) * 1024
    lr = 2.5e-4 * (1 - (steps - 1024) / steps[-1])
    hyper = {"exp_name": "ppo_atari_lstm", "learning_rate": 0.00025, "anneal_lr": True, "total_timesteps": 10000000, "target_kl": None}
    write_run(run_dir, "cleanrl", steps, {"lr": lr, "kl": np.full(20, 0.01), "entropy": np.full(20, 1.3)}, hyperparameters=hyper)
    (run,) = load_runs(tmp_path / "runs")
    assert run.name == "BreakoutNoFrameskip-v4__ppo_atari_lstm__1__1700000000"
    source = "BreakoutNoFrameskip-v4__ppo_atari_lstm__1__1700000000 CleanRL hyperparameters text: exp_name"
    assert (run.architecture.kind, run.architecture.source) == ("lstm", source)
    assert run.config.lr.value == 0.00025 and run.config.lr_schedule.value == "linear"
    assert run.config.total_steps.value == 10_000_000 and run.config.target_kl is None
    assert run.lr_shape.kind == "linear-decay" and run.sources["kl"].estimator == "k3"


def test_progress_csv_uses_total_timesteps(tmp_path):
    steps, metrics = synthetic_collapse(10)
    write_progress_csv(tmp_path / "PPO_2", steps, {m: metrics[m] for m in ("lr", "kl", "entropy", "episode_return")})
    (run,) = load_runs(tmp_path)
    assert run.library == "sb3" and run.metrics["episode_return"].index.tolist() == steps.tolist()
    assert run.metrics["kl"].index.tolist() == steps[1:].tolist()  # the first row leaves train/ blank
    assert run.metrics["entropy"].iloc[-1] == pytest.approx(metrics["entropy"][-1])


def test_tag_override_arch_and_unknown_tags(tmp_path):
    steps = np.arange(1, 6) * 100
    write_tags(tmp_path, steps, {"custom/kl": np.full(5, 0.05), "custom/other": np.zeros(5)})
    (run,) = load_runs(tmp_path, tag_overrides={"kl": "custom/kl"}, arch="gru")
    assert run.metrics["kl"].iloc[0] == pytest.approx(0.05) and run.sources["kl"].library == "--tag"
    assert run.unknown_tags == ("custom/other",)
    assert (run.architecture.kind, run.architecture.source) == ("gru", "--arch")
    with pytest.raises(InputError):
        load_runs(tmp_path, tag_overrides={"nonsense": "x"})


def test_missing_path_and_no_runs_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_runs(tmp_path / "missing")
    with pytest.raises(InputError, match="no readable run"):
        load_runs(tmp_path)


def test_unreadable_run_is_a_problem_not_fatal(tmp_path):
    steps, metrics = synthetic_collapse(5)
    write_run(tmp_path / "good", "sb3", steps, {"kl": metrics["kl"]})
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "progress.csv").write_text("no_step_column\n1\n")
    ingested = load(tmp_path)
    assert [r.name for r in ingested.runs] == ["good"]
    assert any("bad" in p.path and "total_timesteps" in p.message for p in ingested.problems)


def test_reading_writes_nothing_and_jobs_give_same_runs(tmp_path):
    steps, metrics = synthetic_collapse(10)
    for name in ("a", "b", "c"):
        write_run(tmp_path / name, "cleanrl", steps, {m: metrics[m] for m in ("lr", "kl", "entropy")})
    before = sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    progress = []
    serial = load_runs(tmp_path, on_progress=lambda done, total: progress.append((done, total)))
    parallel = load_runs(tmp_path, jobs=2)
    assert sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*")) == before
    assert progress[-1] == (3, 3)
    assert [r.name for r in serial] == [r.name for r in parallel] == ["a", "b", "c"]
    assert all(s.metrics["kl"].equals(p.metrics["kl"]) for s, p in zip(serial, parallel))


@pytest.mark.skipif(not (SAMPLE_LOGS / "sb3_recurrentppo_cartpole").is_dir(), reason="sample_logs not present")
def test_real_sb3_recurrent_ppo_run():
    (run,) = load_runs(SAMPLE_LOGS / "sb3_recurrentppo_cartpole")
    assert run.name == "RecurrentPPO_1" and run.library == "sb3" and run.step_axis == "env steps"
    assert {"lr", "kl", "entropy", "clip_fraction", "episode_return"} <= set(run.metrics)
    entropy = run.metrics["entropy"]
    # CartPole has 2 actions: +H lies in (0, ln 2]; SB3 logged it as -H
    assert ((entropy > 0) & (entropy <= np.log(2) + 1e-6)).all() and run.sources["entropy"].negated
    assert (run.architecture.kind, run.architecture.recurrent) == ("lstm", True)
    assert "RecurrentPPO_1" in run.architecture.source and "guess" in run.architecture.source
    assert run.lr_shape.kind == "constant" and run.lr_shape.peak_lr == pytest.approx(3e-4)


@pytest.mark.skipif(not (SAMPLE_LOGS / "graph_free_gru_constant_lr").is_dir(), reason="sample_logs not present")
def test_synthetic_originating_sample():
    (run,) = load_runs(SAMPLE_LOGS / "graph_free_gru_constant_lr")
    assert (run.architecture.kind, run.architecture.name) == ("gru", "graph_free")
    assert run.architecture.source.startswith("config.json:")
    assert run.config.warmup.value is False and "not in warmup_architectures" in run.config.warmup.source
    assert run.lr_shape.kind == "constant"
    assert run.metrics["kl"].max() == pytest.approx(0.0334, rel=1e-6)
    assert run.metrics["kl"].idxmax() == 3_555_328
    assert run.metrics["entropy"].iloc[-1] > run.metrics["entropy"].iloc[0] > 0


def test_runs_judged_where_they_are_read_come_back_small_and_judged_alike(tmp_path):
    """``load(judge=...)``: the rules run in the reader processes, and a result keeps only the
    KL's points (what a report prints) and the extent of every other metric."""
    import functools
    import shutil

    from lrdoctor.rules import engine
    from lrdoctor.rules.options import load_options

    samples = Path(__file__).resolve().parents[2] / "sample_logs"
    root = shutil.copytree(samples, tmp_path / "sweep", ignore=shutil.ignore_patterns("*.md"))
    options = load_options(cwd=tmp_path, rule_settings={"kl-exceeded.threshold": "0.03"})
    whole = load([root], use_cache=False, jobs=1)
    expected = engine.analyze(whole.runs, options)
    judge = functools.partial(engine.judged, options=options, keep_points=False)
    streamed = load([root], use_cache=False, jobs=2, judge=judge)
    assert [r.findings for r in streamed.results] == [r.findings for r in expected]
    assert [dict(r.judged_by) for r in streamed.results] == [dict(r.judged_by) for r in expected]
    for result, run in zip(streamed.results, whole.runs):
        metrics = result.run.metrics
        assert list(metrics) == list(run.metrics) and result.run.last_step == run.last_step
        for name in run.metrics:
            steps, _ = run.metrics.points(name)
            assert metrics.extent(name) == Extent(len(steps), int(steps.min()), int(steps.max()))
        np.testing.assert_array_equal(metrics.points("kl")[1], run.metrics.points("kl")[1])
        with pytest.raises(LookupError):
            metrics.points("entropy")


READ_AND_COUNT_FAULTS = """
import resource, sys
from pathlib import Path
from lrdoctor.read import ingest
from lrdoctor.read.events import read_event_file
files = sorted(Path(sys.argv[1]).rglob("events.out.tfevents.*"))
if sys.argv[2] == "keep":
    ingest.keep_freed_memory()
read_event_file(files[0])
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for path in files[1:]:
    read_event_file(path)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator tuning is glibc's mallopt")
def test_reading_run_after_run_reuses_the_memory_the_last_run_freed(tmp_path):
    """Each event file read allocates its bytes and arrays afresh; without the allocator
    keeping what the last run freed, every page of them is a new page fault (counted, not timed)."""
    make_sweep = load_script(ROOT / "benchmarks" / "make_sweep.py")
    files = sorted(make_sweep.write_sweep(tmp_path / "sweep", runs=6, steps=3000))  # SYNTHETIC, 1.8 MB each
    faults = {
        mode: int(subprocess.run([sys.executable, "-c", READ_AND_COUNT_FAULTS, str(tmp_path / "sweep"), mode],
                                 capture_output=True, text=True, check=True).stdout)
        for mode in ("default", "keep")
    }
    pages_read = sum(path.stat().st_size for path in files[1:]) // 4096  # the files read after the first
    assert faults["default"] > pages_read / 2  # glibc's default: fresh pages for every file
    assert faults["keep"] < faults["default"] / 3
