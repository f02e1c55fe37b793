"""LRD015 collapse-forecast: on synthetic runs (synthetic_runs.py), then measured on every real run in tests/."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from script_loader import load_script
from synthetic_runs import STEP, collapsing_metrics, healthy_metrics, make_run, series

from lrdoctor.model import LRShape
from lrdoctor.rules import collapse_forecast

ROOT = Path(__file__).resolve().parents[2]
ADAPTIVE = LRShape(kind="adaptive", peak_lr=1e-2, initial_lr=1e-2, final_lr=1e-5)


def measure_script():
    return load_script(ROOT / "scripts" / "measure_forecast.py")


def test_fires_before_the_kl_runs_over_for_good(findings):
    run = make_run(collapsing_metrics())
    # The synthetic collapse's onset (entropy leaving its band, judged on the whole run) comes
    # before the forecast, so with LRD006 on the engine drops the forecast as moot; the rule
    # alone still comes before the KL's sustained excess and before the return fell.
    assert findings(run, "LRD015") == []
    [forecast] = findings(run, "LRD015", ignore=["LRD006"])
    [collapse] = findings(run, "LRD006")
    assert forecast.step >= collapse.step
    assert forecast.step < collapse.evidence["kl_sustained_from"] and forecast.step < 2_000_000
    assert forecast.evidence["signs"][0] == "kl" and forecast.evidence["kl_threshold"] == 0.02
    assert forecast.message.startswith("collapse expected within ~6 updates (~98.3K steps) from step ")
    assert "likely cause: constant LR 3e-04 on a recurrent GRU" in forecast.message
    assert forecast.fix["schedule"]["base_lr"] == 3e-4


def test_silent_on_a_healthy_run(findings):
    assert findings(make_run(healthy_metrics()), "LRD015") == []


def test_causal_the_step_it_names_is_the_step_it_fires_at_live(findings):
    run = make_run(collapsing_metrics())
    [forecast] = findings(run, "LRD015", ignore=["LRD006"])
    script = measure_script()
    assert findings(script.up_to(run, forecast.step), "LRD015", ignore=["LRD006"])[0].step == forecast.step
    assert findings(script.up_to(run, forecast.step - STEP), "LRD015", ignore=["LRD006"]) == []


def test_a_rising_kl_is_forecast_before_its_median_is_near():
    # Synthetic: KL 0.002 for 20 updates, then climbing 0.0015 per update with little noise.
    rng = np.random.RandomState(100)
    kl = np.r_[np.full(20, 0.002), 0.002 + 0.0015 * np.arange(1, 21)] + rng.normal(0, 0.0002, 40)
    sign = collapse_forecast.kl_sign(make_run({"kl": series(kl)}), _options())
    assert sign is not None and sign.evidence["kl_median"] < 0.75 * 0.02
    assert sign.evidence["kl_trend_p"] < 0.01 and 0 < sign.evidence["kl_updates_to_threshold"] <= 6


def test_the_kl_is_not_judged_under_an_adaptive_lr_its_floor_is(findings):
    metrics = collapsing_metrics()
    run = dataclasses.replace(make_run(metrics, lr_shape=ADAPTIVE), library="rsl_rl")
    assert collapse_forecast.kl_sign(run, _options()) is None
    # rsl_rl's clamp: the LR sits at 1e-5 from update 200 on (synthetic)
    lr = np.r_[np.full(200, 1e-3), np.full(85, 1e-5)]
    pinned = dataclasses.replace(make_run({"lr": series(lr), "entropy": metrics["entropy"]}, lr_shape=ADAPTIVE),
                                 library="rsl_rl")
    [found] = findings(pinned, "LRD015")
    assert found.evidence["signs"] == ["lr_floor"] and found.step == 205 * STEP  # 5 of the last 6 updates at 1e-5
    assert "sat at its floor 1e-05 (rsl_rl's clamp)" in found.message


def test_an_lr_touching_its_floor_now_and_then_is_no_sign():
    # The pattern of the real rsl_rl run in tests/real_runs: 1e-5 at a few iterations, between higher ones.
    lr = np.tile([1e-5, 5e-5, 1e-4, 1e-5, 1.5e-5, 5e-4], 10)
    run = dataclasses.replace(make_run({"lr": series(lr)}, lr_shape=ADAPTIVE), library="rsl_rl")
    assert collapse_forecast.lr_floor_sign(run, _options()) is None


def test_entropy_and_critic_fire_only_together(findings):
    x = np.arange(60)
    entropy = series(np.where(x < 20, 0.69, 0.1))
    ev = series(np.where(x < 10, 0.1, np.where(x < 30, 0.8, -0.5)))
    assert findings(make_run({"entropy": entropy}), "LRD015") == []
    assert findings(make_run({"explained_variance": ev}), "LRD015") == []
    [found] = findings(make_run({"entropy": entropy, "explained_variance": ev}), "LRD015")
    assert found.evidence["signs"] == ["entropy", "critic"]
    assert found.step == 34 * STEP  # the later of the two: 4 of the critic's last 6 under 0


def test_mann_kendall():
    rows = np.array([np.arange(10.0), np.arange(10.0)[::-1], np.ones(10)])
    p = collapse_forecast.mann_kendall_p(rows)
    assert p[0] < 0.001 and p[1] > 0.999 and p[2] == pytest.approx(0.5)


def test_options_and_the_threshold_followed(findings):
    run = make_run(collapsing_metrics())
    assert findings(run, "LRD015", rule_settings={"kl-exceeded.threshold": "0.05"}) == []
    later = findings(run, "LRD015", rule_settings={"collapse-forecast.near": "0.95"})
    assert later == [] or later[0].step > findings(run, "LRD015")[0].step
    assert findings(run, "LRD015", ignore=["collapse-forecast"]) == []


def _options():
    from lrdoctor.rules.options import load_options

    return load_options(cwd=Path("/")).rule_options["LRD015"]


# ------------------------------------------------------------------ measured on the real runs


@pytest.fixture(scope="module")
def measured():
    script = measure_script()
    from lrdoctor import load_runs
    from lrdoctor.rules import engine
    from lrdoctor.rules.options import load_options

    options = load_options(cwd=Path("/"))
    rows = []
    for run in load_runs([ROOT / corpus for corpus in script.CORPORA], use_cache=False):
        findings = {f.code: f for f in engine.analyze([run], options)[0].findings}
        rows.append((run, findings.get("LRD006"), findings.get("LRD015")))
    return script, rows


def test_the_forecast_comes_before_every_real_collapse_of_three_libraries(measured):
    _, rows = measured
    collapses = [(run, collapse, forecast) for run, collapse, forecast in rows if collapse is not None]
    assert len(collapses) >= 5 and all(forecast is not None for _, _, forecast in collapses)
    for run, collapse, forecast in collapses:
        assert collapse.evidence["onset_step"] - forecast.step > 0, run.path
    trainers = {"PPO" if "/sb3/" in str(run.path) else "RecurrentPPO" if "RecurrentPPO" in str(run.path)
                else run.library for run, _, _ in collapses}
    assert trainers >= {"PPO", "RecurrentPPO", "rl_games"}


def test_no_false_alarm_on_the_healthy_real_runs(measured):
    _, rows = measured
    healthy = [run for run, collapse, _ in rows if collapse is None and "not_collapsed" not in str(run.path)]
    assert len(healthy) >= 12
    assert [str(run.path) for run, collapse, forecast in rows if run in healthy and forecast is not None] == []


def test_replayed_update_by_update_it_fires_where_analyze_says(measured):
    """The rule is causal: the step analyze names is the step a live replay fires at (one real collapse)."""
    script, rows = measured
    run, _, forecast = next(row for row in rows if row[1] is not None and "RecurrentPPO" in str(row[0].path))
    from lrdoctor.rules.options import load_options

    row = script.measure(run, load_options(cwd=Path("/")), load_options(cwd=Path("/"), select=["LRD015"]), 5)
    assert row["forecast_step"] == forecast.step == row["offline_step"] and row["lead_steps"] > 0
