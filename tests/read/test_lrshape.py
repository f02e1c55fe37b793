import numpy as np
import pytest

from lrdoctor.read.lrshape import lr_shape
from lrdoctor.schedule import Schedule

STEPS = np.arange(1, 201) * 10_000


def series(values):
    """(steps, values) as Metrics.points gives them; float32 like TensorBoard stores an LR."""
    return STEPS[: len(values)], np.asarray(values, dtype=np.float32).astype(np.float64)


def test_not_logged_is_never_constant():
    assert lr_shape(None).kind == "not-logged"


def test_constant_float32():
    shape = lr_shape(series(np.full(200, 3e-4)))
    assert shape.kind == "constant" and shape.peak_lr == pytest.approx(3e-4) and shape.warmup_fraction == 0.0


def test_recommended_schedule_is_warmup_decay_with_its_warmup_fraction():
    schedule = Schedule(base_lr=1e-4, total_steps=int(STEPS[-1]))
    shape = lr_shape(series([schedule(int(s)) for s in STEPS]))
    assert shape.kind == "warmup-decay"
    assert shape.peak_lr == pytest.approx(1e-4, rel=1e-3)
    assert shape.warmup_fraction == pytest.approx(0.25, abs=0.01)


def test_warmup_then_constant_and_live_run_still_warming():
    assert lr_shape(series(np.minimum(np.linspace(0.1, 2, 200), 1) * 3e-4)).kind == "warmup"
    rising = lr_shape(series(np.linspace(1e-5, 3e-4, 50)))
    assert rising.kind == "warmup" and rising.warmup_fraction == 1.0


def test_linear_cosine_step_adaptive():
    progress = np.linspace(0, 1, 200)
    assert lr_shape(series(3e-4 * (1 - progress) + 1e-6)).kind == "linear-decay"
    assert lr_shape(series(3e-4 * 0.5 * (1 + np.cos(np.pi * progress)) + 1e-6)).kind == "cosine"
    assert lr_shape(series(np.repeat([3e-4, 1e-4, 3e-5], [70, 70, 60]))).kind == "step"
    rng = np.random.RandomState(0)
    adaptive = 3e-4 * np.cumprod(np.where(rng.rand(200) < 0.5, 1.5, 1 / 1.5))
    assert lr_shape(series(adaptive)).kind == "adaptive"


def test_fine_grained_linear_decay_is_not_mistaken_for_steps():
    steps = np.arange(1, 10_001) * 2048
    values = (3e-4 * (1 - np.arange(10_000) / 10_000)).astype(np.float32).astype(np.float64)
    assert lr_shape((steps, values)).kind == "linear-decay"


def test_all_nan_is_unknown_not_constant():
    assert lr_shape(series([np.nan] * 5)).kind == "unknown"


def test_points_out_of_step_order_are_read_in_step_order():
    steps, values = series(np.minimum(np.linspace(0.1, 2, 200), 1) * 3e-4)
    shuffled = np.random.default_rng(0).permutation(len(steps))
    assert lr_shape((steps[shuffled], values[shuffled])) == lr_shape((steps, values))
    assert lr_shape((steps[shuffled], values[shuffled])).kind == "warmup"
