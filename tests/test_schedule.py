"""The recommended schedule: DESIGN.md's worked example, its parameters and adapters."""

import pickle

import numpy as np
import pytest

from lrdoctor.errors import InputError
from lrdoctor.schedule import Schedule

WORKED = Schedule(base_lr=1e-4, total_steps=20_000_000)


@pytest.mark.parametrize(
    "step, lr", [(0, 1e-6), (500_000, 1e-5), (5_000_000, 1e-4), (20_000_000, 1e-5)]
)
def test_worked_example_holds_exactly(step, lr):
    assert WORKED.lr(step) == lr


def test_linear_between_knots():
    steps = np.linspace(0, 20_000_000, 1001)
    values = WORKED.lr(steps)
    for (s0, lr0), (s1, lr1) in zip(WORKED.knots, WORKED.knots[1:]):
        inside = (steps >= s0) & (steps <= s1)
        expected = lr0 + (steps[inside] - s0) * (lr1 - lr0) / (s1 - s0)
        np.testing.assert_allclose(values[inside], expected, rtol=1e-12)


def test_beyond_total_steps_holds_final_lr():
    assert WORKED.lr(40_000_000) == pytest.approx(1e-5)


def test_phase_names_and_boundaries():
    assert [p.key for p in WORKED.phases] == ["slow_start", "ramp", "decay"]
    assert WORKED.phase_of(0).number == 1
    assert WORKED.phase_of(499_999).key == "slow_start"
    assert WORKED.phase_of(500_000).key == "ramp"
    assert WORKED.phase_of(5_000_000).key == "decay"
    assert WORKED.phase_of(20_000_000).key == "decay"


def test_hold_variant_holds_full_lr_until_fraction():
    held = Schedule(base_lr=1e-4, total_steps=20_000_000, hold_until=0.75)
    assert [p.key for p in held.phases] == ["slow_start", "ramp", "hold", "decay"]
    for step in (5_000_000, 10_000_000, 15_000_000):
        assert held.lr(step) == pytest.approx(1e-4, rel=1e-12)
    assert held.lr(17_500_000) == pytest.approx(0.55e-4)
    assert held.lr(20_000_000) == 1e-5


def test_final_factor_is_a_parameter():
    # DESIGN.md: the source's header says 0.01x, its worked numbers 0.1x.
    assert Schedule(1e-4, 20_000_000, final_factor=0.01).lr(20_000_000) == 1e-6


@pytest.mark.parametrize("progress_remaining", np.linspace(1.0, 0.0, 201))
def test_sb3_adapter_agrees_with_step_function(progress_remaining):
    step = (1.0 - progress_remaining) * WORKED.total_steps
    assert WORKED.sb3()(progress_remaining) == pytest.approx(WORKED.lr(step), rel=1e-12)


def test_lambda_lr_multiplier_scales_base_lr():
    factor = WORKED.lambda_lr(steps_per_call=2048)
    assert factor(0) == pytest.approx(0.01)
    assert factor(5_000_000 // 2048) * 1e-4 == pytest.approx(WORKED.lr(5_000_000 // 2048 * 2048))


def test_adapters_pickle_for_checkpoints():
    restored = pickle.loads(pickle.dumps(WORKED.sb3()))
    assert restored(0.5) == WORKED.sb3()(0.5)


def test_points_include_every_knot_so_interpolation_is_exact():
    points = WORKED.points(count=11)
    steps = [p["step"] for p in points]
    for knot_step, knot_lr in WORKED.knots:
        assert {"step": knot_step, "lr": knot_lr} == {
            k: v for k, v in points[steps.index(knot_step)].items() if k != "phase"
        }
    xs = np.array(steps, dtype=float)
    ys = np.array([p["lr"] for p in points])
    probe = np.linspace(0, WORKED.total_steps, 997)
    np.testing.assert_allclose(np.interp(probe, xs, ys), WORKED.lr(probe), rtol=1e-9)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"base_lr": -1.0}, "base LR"),
        ({"base_lr": float("nan")}, "base LR"),
        ({"total_steps": 0}, "total steps"),
        ({"ramp_end": 0.01}, "fractions"),
        ({"hold_until": 0.1}, "fractions"),
        ({"final_factor": 0.0}, "final_factor"),
    ],
)
def test_invalid_parameters_say_what_is_wrong(kwargs, words):
    params = {"base_lr": 1e-4, "total_steps": 1000, **kwargs}
    with pytest.raises(InputError, match=words):
        Schedule(**params)


def test_negative_step_is_rejected():
    with pytest.raises(InputError):
        WORKED.lr(-1)


@pytest.mark.parametrize("algorithm", ["RecurrentPPO", "PPO"])
def test_sb3_code_line_runs_and_constructs_the_named_algorithm(algorithm):
    line = WORKED.code() if algorithm == "RecurrentPPO" else WORKED.code(algorithm)
    built = {}

    def constructor(*args, **kwargs):
        built.update(kwargs)
        return algorithm

    namespace = {algorithm: constructor}
    exec(line["sb3"], namespace)
    assert namespace["model"] == algorithm
    assert built["learning_rate"](0.5) == WORKED.lr(10_000_000)
