"""The shape of a logged learning-rate series, read off the numbers alone.

LR values reach TensorBoard as float32, so "equal" means within a relative
tolerance. An absent LR tag is "not-logged": a run that never logged its LR may
well have had a schedule, so it is never called constant.
"""

from __future__ import annotations

import numpy as np

from lrdoctor.model import LRShape, Points

# Relative tolerance for "the same LR": float32 rounding is ~6e-8, a schedule step is far larger.
_RTOL = 1e-3
# A change between two logged values larger than this share of the peak is real, not float32 noise.
_CHANGE = 1e-6
# A decay fits a reference curve when its RMS error, on values scaled to [0, 1], is below this.
_FIT_RMSE = 0.05
# KL-adaptive schedulers (rl_games, Sample Factory, skrl) move the LR up and down many times.
_ADAPTIVE_REVERSALS = 3
# A step schedule changes its value at only a few points.
_STEP_MAX_CHANGES = 12


def lr_shape(lr: Points | None) -> LRShape:
    """Classify the logged LR (its ``Metrics.points``): constant, warmup, warmup-decay,
    linear-decay, cosine, step, adaptive, unknown; not-logged when there is none.
    Arrays only: a run is described in a reader process that never needs pandas."""
    if lr is None:
        return LRShape(kind="not-logged")
    steps, values = np.asarray(lr[0], dtype=np.float64), np.asarray(lr[1], dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return LRShape(kind="unknown")
    steps, values = steps[finite], values[finite]
    order = np.argsort(steps, kind="stable")
    steps, values = steps[order], values[order]
    peak, initial, final = float(values.max()), float(values[0]), float(values[-1])
    shape = {"peak_lr": peak, "initial_lr": initial, "final_lr": final}

    same = np.isclose(values, peak, rtol=_RTOL, atol=0.0)
    if same.all():
        return LRShape(kind="constant", warmup_fraction=0.0, **shape)
    changes = _changes(values, peak)
    directions = np.sign(changes)
    if np.count_nonzero(directions[1:] != directions[:-1]) >= _ADAPTIVE_REVERSALS:
        return LRShape(kind="adaptive", **shape)

    span = steps[-1] - steps[0]
    first_peak = int(np.argmax(same))
    if first_peak > 0:
        warmup_fraction = float((steps[first_peak] - steps[0]) / span) if span else None
        after = values[first_peak:]
        kind = "warmup" if np.isclose(after, peak, rtol=_RTOL, atol=0.0).all() else "warmup-decay"
        return LRShape(kind=kind, warmup_fraction=warmup_fraction, **shape)

    if np.any(changes > 0):
        return LRShape(kind="unknown", **shape)
    if len(changes) <= _STEP_MAX_CHANGES and len(changes) * 4 < len(values):
        return LRShape(kind="step", warmup_fraction=0.0, **shape)
    return LRShape(kind=_decay_kind(steps, values), warmup_fraction=0.0, **shape)


def _changes(values: np.ndarray, peak: float) -> np.ndarray:
    """The successive differences larger than float32 noise, in order."""
    diffs = np.diff(values)
    return diffs[np.abs(diffs) > abs(peak) * _CHANGE]


def _decay_kind(steps: np.ndarray, values: np.ndarray) -> str:
    """linear-decay or cosine, whichever reference curve the decay fits; else unknown."""
    progress = (steps - steps[0]) / (steps[-1] - steps[0])
    scaled = (values - values[-1]) / (values[0] - values[-1])
    fits = {
        "linear-decay": 1.0 - progress,
        "cosine": 0.5 * (1.0 + np.cos(np.pi * progress)),
    }
    errors = {kind: float(np.sqrt(np.mean((scaled - curve) ** 2))) for kind, curve in fits.items()}
    best = min(errors, key=errors.get)
    return best if errors[best] < _FIT_RMSE else "unknown"
