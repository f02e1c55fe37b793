"""Two runs side by side: the settings that differ, and the first step where their curves part.

"The same config behaves differently" is a question about seeds and noise: two runs part when
the gap between their smoothed curves (a running median) stays wider than those curves' own
noise, not when two noisy series first cross. A run's point-to-point noise is estimated from
its successive differences (1.4826 x their median absolute deviation / sqrt 2: robust to
spikes, and a trend does not count as noise); a running median of w points is uncertain by
about 1.25 x that / sqrt(w). The runs have parted at the first step from which the gap stays
over ``NOISE_MULTIPLE`` times the two curves' combined uncertainty for ``sustained_points``
points in a row. A smooth curve (SB3's return is a mean of the last 100 episodes) shows almost
no noise of its own, so a gap must also exceed ``MIN_RELATIVE_GAP`` of the range both curves
cover: two seeds 4 points apart on a return rising from 20 to 270 have not parted. KL is
compared on a log scale: it spans decades, and its noise grows with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lrdoctor.model import Run, Sourced
from lrdoctor.read.settings import is_seed

METRICS = ("kl", "entropy", "episode_return")
NOISE_MULTIPLE = 3.0  # a gap 3x the combined noise is not a fluctuation of either run
MIN_POINTS = 8  # fewer common points than this and no parting is claimed
MIN_RELATIVE_GAP = 0.1  # of the range the two smoothed curves cover
MEDIAN_ERROR = 1.2533  # the standard error of a median of normal noise, in units of sigma / sqrt(n)
KL_FLOOR = 1e-8  # a logged KL of 0 (or a k3 estimate below it) on the log scale


@dataclass(frozen=True)
class SettingDifference:
    """A setting one run declares differently from the other (None: not declared there)."""

    setting: str
    a: Sourced | None
    b: Sourced | None


@dataclass(frozen=True)
class Parting:
    """Where two runs' curves of one metric part. ``step`` is None when they never did (or
    could not be compared: ``why`` says which)."""

    metric: str
    step: int | None
    why: str = ""
    a_value: float | None = None  # each run's smoothed value at the step
    b_value: float | None = None
    noise: float | None = None  # the combined noise, on the compared scale (log10 for KL)
    points: int = 0  # common points compared
    log_scale: bool = False


@dataclass(frozen=True)
class RunDiff:
    a: Run
    b: Run
    differences: tuple[SettingDifference, ...]  # settings other than seeds
    seeds: tuple[SettingDifference, ...]
    same: int  # settings both declare alike
    partings: tuple[Parting, ...]  # one per metric of METRICS, in that order

    @property
    def first(self) -> Parting | None:
        """The metric that parted first (by step; ties in METRICS order)."""
        parted = [p for p in self.partings if p.step is not None]
        return min(parted, key=lambda p: (p.step, METRICS.index(p.metric))) if parted else None


def diff_runs(a: Run, b: Run) -> RunDiff:
    differences, seeds, same = [], [], 0
    for key in sorted(set(a.settings) | set(b.settings)):
        left, right = a.settings.get(key), b.settings.get(key)
        if left is not None and right is not None and _same(left.value, right.value):
            same += 1
            continue
        (seeds if is_seed(key) else differences).append(SettingDifference(key, left, right))
    partings = tuple(parting(a, b, metric) for metric in METRICS)
    return RunDiff(a, b, tuple(differences), tuple(seeds), same, partings)


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, (int, float)) and isinstance(right, (int, float)) and not isinstance(left, bool):
        return float(left) == float(right)
    return left == right


def parting(a: Run, b: Run, metric: str) -> Parting:
    """The first step where ``metric`` of the two runs parts beyond their own noise."""
    pa, pb = a.metrics.points(metric), b.metrics.points(metric)
    if pa is None or pb is None:
        missing = " and ".join(name for name, p in (("A", pa), ("B", pb)) if p is None)
        return Parting(metric, None, f"not logged in {missing}")
    steps, va, vb = common_grid(pa, pb)
    if len(steps) < MIN_POINTS:
        return Parting(metric, None, f"only {len(steps)} common points (fewer than {MIN_POINTS})", points=len(steps))
    log_scale = metric == "kl"
    if log_scale:
        va, vb = np.log10(np.maximum(va, KL_FLOOR)), np.log10(np.maximum(vb, KL_FLOOR))
    window = smoothing_window(len(steps))
    sa, sb = running_median(va, window), running_median(vb, window)
    noise = float(np.hypot(point_noise(va), point_noise(vb))) * MEDIAN_ERROR / np.sqrt(window)
    scale = max(float(np.median(np.abs(np.concatenate([sa, sb])))), 1.0 if not log_scale else 0.0)
    noise = max(noise, 1e-9 * scale, 1e-12)  # a noiseless series (a constant) still has a resolution
    both = np.concatenate([sa, sb])
    over = np.abs(sa - sb) > max(NOISE_MULTIPLE * noise, MIN_RELATIVE_GAP * float(np.ptp(both)))
    run_length = sustained_points(len(steps))
    start = first_run(over, run_length)
    if start is None:
        return Parting(metric, None, "within their noise throughout", noise=noise, points=len(steps),
                       log_scale=log_scale)
    back = (lambda v: float(10**v)) if log_scale else float
    return Parting(metric, int(steps[start]), "", back(sa[start]), back(sb[start]), noise, len(steps), log_scale)


def common_grid(pa: tuple[np.ndarray, np.ndarray], pb: tuple[np.ndarray, np.ndarray]):
    """Both series on one step axis: the steps both logged when they share most of them (runs of
    one config log at the same steps); else B interpolated onto A's steps where both ran."""
    (sa, va), (sb, vb) = _finite(*pa), _finite(*pb)
    if not len(sa) or not len(sb):
        return np.array([], dtype=np.int64), np.array([]), np.array([])
    shared, ia, ib = np.intersect1d(sa, sb, return_indices=True)
    if len(shared) >= 0.5 * min(len(sa), len(sb)):
        return shared, va[ia], vb[ib]
    inside = (sa >= sb.min()) & (sa <= sb.max())
    return sa[inside], va[inside], np.interp(sa[inside], sb, vb)


def _finite(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(values)
    steps, values = steps[keep], values[keep]
    order = np.argsort(steps, kind="stable")
    steps, values = steps[order], values[order]
    last = np.r_[steps[1:] != steps[:-1], True]  # a repeated step: the later value wins, as in merging
    return steps[last], values[last]


def smoothing_window(points: int) -> int:
    """An odd window of about a tenth of the run, at least 5 points: long enough to see past a
    spike, short enough to follow a collapse."""
    window = max(5, points // 10)
    return window + (window % 2 == 0)


def sustained_points(points: int) -> int:
    """Points in a row a gap must last: 4, or a tenth of the run if longer. Seeds of one config
    drift apart and back together; a gap that closes within a tenth of the run was a wobble."""
    return max(4, points // 10)


def running_median(values: np.ndarray, window: int) -> np.ndarray:
    half = window // 2
    padded = np.pad(values, half, mode="edge")
    stacked = np.lib.stride_tricks.sliding_window_view(padded, window)
    return np.median(stacked, axis=1)


def point_noise(values: np.ndarray) -> float:
    """A series' noise from one point to the next, trend left out: the robust spread of its
    successive differences, over sqrt 2 (a difference holds the noise of two points)."""
    steps = np.diff(values)
    return float(1.4826 * np.median(np.abs(steps - np.median(steps))) / np.sqrt(2))


def first_run(flags: np.ndarray, length: int) -> int | None:
    """The first index from which ``flags`` is True ``length`` times in a row."""
    count = 0
    for index, flag in enumerate(flags):
        count = count + 1 if flag else 0
        if count >= length:
            return index - count + 1
    return None
