"""LRD015 collapse-forecast: the signs that come before a collapse, while there is time to act.

Why: the GPU-days of a collapse are lost between the update where the KL starts to drift
and the moment someone looks. LRD006 names a collapse once the return has fallen; this
rule fires on the signs that precede it, so a live run (``watch``, the SB3 callback, the
Monitor) can stop, or lower its LR, first.

Causal by construction: every sign at an update is computed from that update and the ones
before it only (trailing windows, a start level from the first updates), so the step this
rule names in ``analyze`` is the step it would have fired at while the run trained.

The signs, each over the last ``window`` updates:
- KL: its trailing median at ``near`` of its threshold or more (LRD001's threshold: the
  run's ``target_kl`` or 0.02), or a rising trend (Mann-Kendall, one-sided p below
  ``trend_p``: a rank test one wild reading cannot fake) whose Theil-Sen line reaches the
  threshold within ``horizon`` updates from a median already at ``near`` / 2 of it. Not
  used under an adaptive LR: there the controller holds the KL near its set-point, and the
  LR is the signal instead;
- an adaptive LR pinned at its floor: ``pinned_share`` of the last ``window`` updates at the
  clamp of its library (rsl_rl 1e-5, rl_games 1e-6, skrl's KLAdaptiveLR 1e-6) or, for a
  library not known, at the lowest LR the run has logged after falling 100-fold from its
  peak: the controller kept cutting the LR and the KL still ran over its set-point. This is
  the KL's signal where the KL is not logged (rsl_rl, skrl);
- entropy leaving its band: its trailing median below ``entropy_drop`` of its start (the
  median of the first ``start_updates`` updates; positive entropies only);
- the critic diverging: the value loss's trailing median ``value_growth`` times its start
  with a rising trend, or the explained variance's trailing median below 0 after it had
  reached 0.3.

When: a KL sign or a pinned LR fires on its own; the entropy and the critic, which also move
in healthy runs (entropy falls as a policy learns, a critic's loss grows with the returns),
fire only together. Nothing fires before ``start_updates`` + 1 updates. A forecast at or
after the onset of a collapse the run did have (LRD006) is dropped by the engine: by then
the collapse, not its forecast, is the news.

The defaults were chosen by replaying every real run in ``tests/real_collapses`` and
``tests/real_runs`` update by update (``scripts/measure_forecast.py``; the table is in the
README): with them the forecast fires before LRD006's onset on every real collapse and
never on a healthy run. ``horizon`` (6 updates) is also what the message says to expect:
on those collapses the onset came 3 to 36 updates after the forecast, a median of 8.5.
``window`` (6): windows of 5, 6, 7 and 8 all kept the healthy runs silent and 5 and 6 fired
earliest; 6 is the fewest points at which the trend test can pass ``trend_p`` (a perfectly
rising 5 has p = 0.014, 6 has 0.004). It is also the soonest the forecast can fire; every
real collapse had its onset after its 10th update. ``near`` (0.85): at 0.75 the forecast
fired on the synthetic run on the recommended schedule in ``sample_logs/`` (its KL's median
reaches 0.0153 in the ramp, where the schedule expects 0.01-0.03); 0.85 and 0.9 keep it
silent and give every real collapse the same lead as 0.75.

Options: ``kl_threshold`` and ``use_target_kl`` follow kl-exceeded's ``threshold`` and
``use_target_kl``; ``window`` (6), ``near`` (0.85), ``trend_p`` (0.01), ``horizon`` (6),
``start_updates`` (5), ``pinned_share`` (0.8), ``entropy_drop`` (0.3), ``value_growth``
(10).

Example::

    LRD015 warning collapse expected within ~6 updates (~3.07K steps) from step 4.61K:
    approx KL (k3, train/approx_kl)'s median over the last 6 updates is 0.0207, 104% of its
    threshold 0.02; likely cause: constant LR 1e-02 on a recurrent LSTM
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Mapping

import numpy as np

from lrdoctor.model import Run, Severity
from lrdoctor.rules import prescription
from lrdoctor.rules.common import Follow, Problem, lr_cause, median, numbers, pairs, rolling_median, row_medians
from lrdoctor.rules.kl_exceeded import threshold_for
from lrdoctor.words import metric_label, number, steps

CODE = "LRD015"
SLUG = "collapse-forecast"
SEVERITY = Severity.warning
SCOPE = "run"
REQUIRES = (("kl", "lr", "entropy", "value_loss", "explained_variance"),)
OPTIONS = {
    "kl_threshold": Follow("LRD001", "threshold"),
    "use_target_kl": Follow("LRD001", "use_target_kl"),
    "window": 6,
    "near": 0.85,
    "trend_p": 0.01,
    "horizon": 6,
    "start_updates": 5,
    "pinned_share": 0.8,
    "entropy_drop": 0.3,
    "value_growth": 10.0,
}
LIMITS = {
    "window": {"at_least": 3},
    "near": {"more_than": 0, "at_most": 1},
    "trend_p": {"more_than": 0, "less_than": 1},
    "horizon": {"at_least": 1},
    "start_updates": {"at_least": 1},
    "pinned_share": {"more_than": 0, "at_most": 1},
    "entropy_drop": {"more_than": 0, "less_than": 1},
    "value_growth": {"more_than": 1},
}
# The clamp of each library's KL-adaptive LR, read in its source: rsl_rl's PPO update
# (max(1e-5, lr / 1.5)), rl_games' AdaptiveScheduler (min_lr=1e-6), skrl's KLAdaptiveLR (min_lr=1e-6).
LR_FLOORS = {"rsl_rl": 1e-5, "rl_games": 1e-6, "skrl": 1e-6}
# An LR of another library counts as at its floor only after falling this far from its peak.
UNKNOWN_FLOOR_FALL = 100.0
# At the floor: within float32 rounding of it (a logged 1e-5 reads 9.99999974738e-06).
FLOOR_TOLERANCE = 1.02
# The explained variance must have reached this before a fall below 0 means the critic lost its grip.
EV_REACHED = 0.3


@dataclass(frozen=True)
class Sign:
    """One sign of a coming collapse, first seen at ``step``, with its words and numbers."""

    kind: str  # kl, lr_floor, entropy, critic
    step: int
    words: str
    evidence: Mapping[str, object]


def windows(values: np.ndarray, window: int) -> np.ndarray:
    """The trailing windows: row k holds the ``window`` values ending at point k + window - 1."""
    return np.lib.stride_tricks.sliding_window_view(values, window)


def mann_kendall_p(rows: np.ndarray) -> np.ndarray:
    """One-sided p-value of a rising trend in each row (Mann-Kendall, normal approximation
    with the tie correction): a test on ranks, so one wild KL reading moves it by one pair.
    Whole arrays at once: a run of 10,000 updates is 10,000 rows, judged on every run."""
    n = rows.shape[1]
    i, j = pairs(n)
    s = np.sign(rows[:, j] - rows[:, i]).sum(axis=1)
    # Each value's tie group size t, counted per value: summing (t - 1)(2t + 5) over the
    # values sums t(t - 1)(2t + 5) over the groups, as the correction asks.
    tied = (rows[:, :, None] == rows[:, None, :]).sum(axis=2)
    ties = ((tied - 1) * (2 * tied + 5)).sum(axis=1)
    variance = n * (n - 1) * (2 * n + 5) / 18.0 - ties / 18.0
    z = np.where(variance > 0, (s - np.sign(s)) / np.sqrt(np.maximum(variance, 1e-12)), 0.0)
    # z takes few distinct values (s is a whole number): erfc once for each.
    distinct, where = np.unique(z, return_inverse=True)
    return np.array([0.5 * math.erfc(value / math.sqrt(2)) for value in distinct])[where]


def theil_sen(rows: np.ndarray) -> np.ndarray:
    """The median pairwise slope of each row, per update."""
    n = rows.shape[1]
    i, j = pairs(n)
    return row_medians((rows[:, j] - rows[:, i]) / (j - i))


def trailing_medians(values: np.ndarray, window: int) -> np.ndarray:
    """The median of each trailing window (bottleneck's, np.median's bit for bit)."""
    return rolling_median(values, window, window)[window - 1:]


def first_where(candidates: np.ndarray, test) -> int | None:
    """The first index of ``candidates`` (a mask) at which ``test(indices)`` (a mask over the
    indices given) holds. The trend tests are the costly part of a sign and decide only the
    first window that fires, so they run on the candidates alone, in growing batches."""
    indices = np.flatnonzero(candidates)
    batch = 64
    while len(indices):
        passed = np.flatnonzero(test(indices[:batch]))
        if len(passed):
            return int(indices[passed[0]])
        indices, batch = indices[batch:], batch * 4
    return None


def kl_sign(run: Run, options: Mapping) -> Sign | None:
    """The KL near its threshold, or rising towards it fast (not under an adaptive LR)."""
    if "kl" not in run.metrics or run.lr_shape.kind == "adaptive":
        return None
    kl = numbers(run, "kl")
    window, start = int(options["window"]), int(options["start_updates"])
    if len(kl.values) < max(window, start + 1):
        return None
    threshold, source = threshold_for(run, {"threshold": options["kl_threshold"],
                                            "use_target_kl": options["use_target_kl"]})
    values, at = kl.values, kl.steps
    rows = windows(values, window)
    trailing = trailing_medians(values, window)
    ends = np.arange(window - 1, len(values))
    started = ends >= start
    near = trailing >= options["near"] * threshold
    first_near = int(np.argmax(near & started)) if (near & started).any() else len(rows)

    def trend(k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p, slope = mann_kendall_p(rows[k]), theil_sen(rows[k])
        ahead = np.where(slope > 0, (threshold - trailing[k]) / np.where(slope > 0, slope, 1.0), np.inf)
        return p, slope, ahead

    def rising(k: np.ndarray) -> np.ndarray:
        rises = mann_kendall_p(rows[k]) < options["trend_p"]
        if rises.any():  # the Theil-Sen line only where the trend test passed: few windows
            trending = np.flatnonzero(rises)
            rises[trending] = trend(k[trending])[2] <= options["horizon"]
        return rises

    may_rise = (trailing >= options["near"] * threshold / 2) & started & (np.arange(len(rows)) < first_near)
    k = first_where(may_rise, rising)
    if k is None:
        if first_near == len(rows):
            return None
        k = first_near
    [p], [slope], [ahead] = trend(np.array([k]))
    share = float(trailing[k]) / threshold  # Python floats: an absurd value gives inf, not a warning
    words = (f"{metric_label(run, 'kl')}'s median over the last {window} updates is {number(trailing[k])}, "
             f"{share:.0%} of its threshold {threshold:g}")
    if slope > 0 and p < options["trend_p"]:
        words += f" (rising: Mann-Kendall p={p:.2g}, Theil-Sen {slope:+.2g} per update)"
    return Sign("kl", int(at[ends[k]]), words, {
        "kl_median": float(trailing[k]), "kl_threshold": threshold, "kl_threshold_source": source,
        "kl_trend_p": float(p), "kl_slope_per_update": float(slope),
        "kl_updates_to_threshold": float(ahead) if math.isfinite(ahead) else None,
    })


def lr_floor_sign(run: Run, options: Mapping) -> Sign | None:
    """An adaptive LR held at its lower clamp: the controller lost against the KL."""
    if "lr" not in run.metrics or run.lr_shape.kind != "adaptive":
        return None
    lr = numbers(run, "lr")
    window = int(options["window"])
    if len(lr.values) < window:
        return None
    values, at = lr.values, lr.steps
    known = LR_FLOORS.get(run.library or "")
    if known is not None:
        floor = np.full(len(values), known)
        where = f"{run.library}'s clamp"
    else:  # the lowest LR so far, once it has fallen far from the peak so far
        floor = np.minimum.accumulate(values)
        floor = np.where(np.maximum.accumulate(values) >= UNKNOWN_FLOOR_FALL * floor, floor, -np.inf)
        where = "the lowest it has been, 100-fold under its peak"
    at_floor = values <= floor * FLOOR_TOLERANCE
    share = windows(at_floor.astype(float), window).mean(axis=1)
    fired = share >= options["pinned_share"]
    if not fired.any():
        return None
    k = int(np.argmax(fired))
    end = k + window - 1
    return Sign("lr_floor", int(at[end]), (
        f"{metric_label(run, 'lr')} sat at its floor {floor[end]:.3g} ({where}) in {share[k]:.0%} of the last "
        f"{window} updates: the adaptive LR cannot bring the KL down"
    ), {"lr_floor": float(floor[end]), "lr_at_floor_share": float(share[k])})


def entropy_sign(run: Run, options: Mapping) -> Sign | None:
    """Entropy's trailing median far under its start: the policy is turning deterministic fast."""
    if "entropy" not in run.metrics:
        return None
    entropy = numbers(run, "entropy")
    window, start = int(options["window"]), int(options["start_updates"])
    if len(entropy.values) < max(window, start + 1):
        return None
    values, at = entropy.values, entropy.steps
    first = median(values[:start])
    if first <= 0:
        return None  # a continuous policy's differential entropy: a fraction of it means nothing
    trailing = trailing_medians(values, window)
    ends = np.arange(window - 1, len(values))
    fired = (trailing < options["entropy_drop"] * first) & (ends >= start)
    if not fired.any():
        return None
    k = int(np.argmax(fired))
    return Sign("entropy", int(at[ends[k]]), (
        f"{metric_label(run, 'entropy')}'s median is {trailing[k]:.3g}, "
        f"{trailing[k] / first:.0%} of its start {first:.3g}"
    ), {"entropy_median": float(trailing[k]), "entropy_start": first})


def critic_sign(run: Run, options: Mapping) -> Sign | None:
    """The value loss growing many-fold with a rising trend, or the explained variance lost."""
    window, start = int(options["window"]), int(options["start_updates"])
    found: list[Sign] = []
    if "value_loss" in run.metrics:
        loss = numbers(run, "value_loss")
        if len(loss.values) >= max(window, start + 1):
            values, at = loss.values, loss.steps
            first = median(values[:start])
            rows = windows(values, window)
            trailing = trailing_medians(values, window)
            ends = np.arange(window - 1, len(values))
            grown = (first > 0) & (trailing >= options["value_growth"] * first) & (ends >= start)
            k = first_where(grown, lambda k: mann_kendall_p(rows[k]) < options["trend_p"])
            if k is not None:
                found.append(Sign("critic", int(at[ends[k]]), (
                    f"{metric_label(run, 'value_loss')}'s median is {trailing[k] / first:.3g}x its start, rising"
                ), {"value_loss_median": float(trailing[k]), "value_loss_start": first}))
    if "explained_variance" in run.metrics:
        ev = numbers(run, "explained_variance")
        if len(ev.values) >= max(window, start + 1):
            values, at = ev.values, ev.steps
            trailing = trailing_medians(values, window)
            reached = np.maximum.accumulate(trailing) >= EV_REACHED
            ends = np.arange(window - 1, len(values))
            fired = reached & (trailing < 0) & (ends >= start)
            if fired.any():
                k = int(np.argmax(fired))
                found.append(Sign("critic", int(at[ends[k]]), (
                    f"{metric_label(run, 'explained_variance')}'s median fell to {trailing[k]:.2g} after reaching "
                    f"{np.max(trailing[:k + 1]):.2g}"
                ), {"explained_variance_median": float(trailing[k])}))
    return min(found, key=lambda sign: sign.step) if found else None


@dataclass(frozen=True)
class Forecast:
    """When the forecast fired, on which signs, and the signs seen by then."""

    step: int
    signs: tuple[Sign, ...]
    steps_per_update: float


def forecast(run: Run, options: Mapping) -> Forecast | None:
    """The first step at which the signs foretell a collapse, or None."""
    signs = [sign for sign in (kl_sign(run, options), lr_floor_sign(run, options), entropy_sign(run, options),
                               critic_sign(run, options)) if sign is not None]
    alone = [sign.step for sign in signs if sign.kind in ("kl", "lr_floor")]
    together = [sign.step for sign in signs if sign.kind in ("entropy", "critic")]
    candidates = alone + ([max(together)] if len(together) == 2 else [])
    if not candidates:
        return None
    step = min(candidates)
    seen = tuple(sorted((sign for sign in signs if sign.step <= step), key=lambda sign: sign.step))
    return Forecast(step, seen, _steps_per_update(run))


def _steps_per_update(run: Run) -> float:
    for metric in ("kl", "lr", "entropy", "value_loss", "explained_variance"):
        if metric in run.metrics:
            index = numbers(run, metric).steps
            if len(index) > 1:
                return median(np.diff(index))
    return 0.0


def check(run: Run, options: Mapping) -> Iterator[Problem]:
    found = forecast(run, options)
    if found is None:
        return
    horizon = int(options["horizon"])
    ahead = f"~{horizon} updates"
    if found.steps_per_update > 0:
        ahead += f" (~{steps(horizon * found.steps_per_update)} steps)"
    evidence: dict[str, object] = {
        "signs": [sign.kind for sign in found.signs],
        "forecast_step": found.step,
        "horizon_updates": horizon,
        "horizon_steps": round(horizon * found.steps_per_update) if found.steps_per_update > 0 else None,
    }
    for sign in found.signs:
        evidence.update(sign.evidence)
    cause = lr_cause(run)
    because = f"; likely cause: {cause.text}" if cause is not None else ""
    yield Problem(
        message=(f"collapse expected within {ahead} from step {steps(found.step)}: "
                 f"{'; '.join(sign.words for sign in found.signs)}{because}"),
        step=found.step,
        evidence=evidence,
        fix=prescription.fix_for(run),
    )
