"""What every rule shares: the Problem a rule yields, robust series statistics, and
the reading of the LR configuration that several rules name as the cause.

Rules are pure functions over a ``model.Run``; nothing here knows about options
files, severities from configuration, or reporters.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from lrdoctor.configs.record import UnitRecord
from lrdoctor.model import Run, Severity
from lrdoctor.rules import prescription
from lrdoctor.words import config_architecture, lr_text, short_architecture

# A Gaussian's median absolute deviation times this is its standard deviation.
MAD_TO_SIGMA = 1.4826
# The standard error of a sample median is about this times sigma / sqrt(n).
MEDIAN_STANDARD_ERROR = 1.2533
# Fewer points than this and no trend is claimed: a handful of updates is not a trend.
MIN_TREND_POINTS = 8


@dataclass(frozen=True)
class Problem:
    """What a rule found, before the engine attaches code, slug and configured severity.

    ``severity`` lets a rule grade one finding (a KL spike is a warning, a
    sustained excess an error); None means the rule's configured severity.
    A run's problem has a ``step``; a config's has the ``line`` and ``column`` of
    the key at fault.
    """

    message: str
    step: int | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    fix: Mapping[str, Any] | None = None
    severity: Severity | None = None
    caused_by: str | None = None
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class Follow:
    """An option's default that is another rule's option: LRD006 judges the KL by LRD001's
    threshold, so ``--set kl-exceeded.threshold=0.03`` reaches the collapse rule too. Setting
    the option itself sets the rule apart on purpose."""

    code: str
    option: str


# --- series: the numeric core the rules share -------------------------------------


@dataclass(frozen=True)
class LevelChange:
    """The start and end level of a series, with the noise that separates a change from chance."""

    early: float
    late: float
    early_end_step: int
    late_start_step: int
    noise: float  # standard error of late - early
    slope: float  # Theil-Sen, per step

    @property
    def change(self) -> float:
        return self.late - self.early

    def relative(self) -> float:
        """The change as a fraction of the early level's size."""
        return self.change / max(abs(self.early), 1e-12)

    def significant(self, sigmas: float = 4.0) -> bool:
        return abs(self.change) > sigmas * self.noise


class MetricNumbers:
    """One metric of one run as the rules read it: its finite points in step order (NaN/Inf
    are LRD007's business), and the robust statistics several rules ask of them.

    Get it with ``numbers(run, metric)``: it is computed once per run and metric and shared,
    and each rolling median, noise level and level change is computed once per window (or
    fraction) and kept, so six rules asking for the KL's trend cost one rolling median.
    Everything is numpy; no rule imports pandas. Arrays returned are shared: read, never write.

    - ``steps`` (int64) and ``values`` (float64): the finite points, ascending steps;
    - ``trend_window``: the window trends are read through, ``max(3, n // 20)``;
    - ``smooth(w)``: centred rolling median (a trend that ignores isolated spikes);
    - ``trailing_median(w)``: the median of the ``w`` points ending at each one (NaN before);
    - ``noise_sigma(w)``: point-to-point noise around ``smooth(w)``;
    - ``sustained_mask(threshold, w)``, ``first_sustained_step(threshold, w)``: a run of excess;
    - ``level_change(early_fraction, late_fraction)``, ``first_crossing``, ``leaves_band``,
      ``spread``, ``theil_sen_slope``.
    """

    def __init__(self, steps: np.ndarray, values: np.ndarray) -> None:
        steps = np.asarray(steps, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        if len(steps) > 1 and (np.diff(steps) < 0).any():
            # pandas' sort_index did this before: the same (unstable) kind keeps ties where they were
            order = np.argsort(steps, kind="quicksort")
            steps, values = steps[order], values[order]
        keep = np.isfinite(values)
        self.steps = steps if keep.all() else steps[keep]
        self.values = values if keep.all() else values[keep]
        self._memo: dict[tuple, Any] = {}

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"MetricNumbers({len(self)} finite points)"

    def _once(self, key: tuple, compute):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def trend_window(self) -> int:
        return max(3, len(self) // 20)

    def smooth(self, window: int) -> np.ndarray:
        """Centred rolling median: follows a trend, ignores isolated spikes. Like pandas'
        ``rolling(window, center=True, min_periods=window // 2 + 1).median()``: ``window // 2``
        points before each one and ``(window - 1) // 2`` after, NaN where fewer than the
        minimum are there (only at the ends of a window as long as the series)."""
        return self._once(("smooth", window), lambda: centred_median(self.values, window))

    def trailing_median(self, window: int) -> np.ndarray:
        """The median of the ``window`` points ending at each point; NaN before the first full window."""
        return self._once(("trailing", window), lambda: rolling_median(self.values, window, window))

    def noise_sigma(self, window: int) -> float:
        """Point-to-point noise: the robust spread of the series around its rolling median."""
        def compute() -> float:
            residual = self.values - self.smooth(window)
            residual = residual[~np.isnan(residual)]
            if residual.size == 0:
                return 0.0
            return float(MAD_TO_SIGMA * median(np.abs(residual - median(residual))))

        return self._once(("noise", window), compute)

    def sustained_mask(self, threshold: float, window: int) -> np.ndarray:
        """True at each point that ends a window of ``window`` updates whose median is over ``threshold``.

        A median over the threshold means most of the window was over it: one spike
        cannot make it true, a run of excess updates does.
        """
        return self.trailing_median(window) > threshold  # NaN (no full window yet) is False

    def first_sustained_step(self, threshold: float, window: int) -> int | None:
        """The first step over ``threshold`` inside the first window that is over it as a whole."""
        mask = self.sustained_mask(threshold, window)
        if not mask.any():
            return None
        start = int(np.argmax(mask)) - window + 1
        over = self.values[start:start + window] > threshold
        return int(self.steps[start + int(np.argmax(over))])

    def theil_sen_slope(self, max_points: int = 200) -> float:
        """Median of pairwise slopes per step: a trend one outlier cannot tilt."""
        return self._once(("slope", max_points), lambda: self._theil_sen_slope(max_points))

    def _theil_sen_slope(self, max_points: int) -> float:
        n = len(self)
        if n < 2:
            return 0.0
        spread = np.linspace(0, n - 1, min(n, max_points)).astype(int)
        picks = spread[np.diff(spread, prepend=-1) != 0]  # distinct, in order (np.unique imports numpy.ma)
        x = self.steps.astype(float)[picks]
        y = self.values[picks]
        i, j = pairs(len(x))  # each i < j: (y[i] - y[j]) / (x[i] - x[j]) is the float (y[j] - y[i]) / (x[j] - x[i])
        dx = x[i] - x[j]
        dy = y[i] - y[j]
        keep = dx != 0
        if not keep.any():
            return 0.0
        return median(dy[keep] / dx[keep])

    def level_change(self, early_fraction: float, late_fraction: float) -> LevelChange | None:
        """Median of the first and of the last part of the series, and how sure the difference is;
        None with fewer than ``MIN_TREND_POINTS`` points."""
        def compute() -> LevelChange | None:
            n = len(self)
            if n < MIN_TREND_POINTS:
                return None
            n_early = head_count(n, early_fraction)
            n_late = head_count(n, late_fraction)
            sigma = self.noise_sigma(self.trend_window)
            standard_error = MEDIAN_STANDARD_ERROR * sigma * math.sqrt(1 / n_early + 1 / n_late)
            return LevelChange(
                early=median(self.values[:n_early]),
                late=median(self.values[n - n_late:]),
                early_end_step=int(self.steps[n_early - 1]),
                late_start_step=int(self.steps[n - n_late]),
                noise=standard_error,
                slope=self.theil_sen_slope(),
            )

        return self._once(("level", early_fraction, late_fraction), compute)

    def first_crossing(self, level: float, *, after: int, above: bool) -> int | None:
        """First step after ``after`` where the trend (``smooth(trend_window)``) is past ``level``."""
        trend = self.smooth(self.trend_window)
        past = (trend >= level) if above else (trend <= level)  # NaN is never past
        past &= self.steps > after
        return int(self.steps[np.argmax(past)]) if past.any() else None

    def leaves_band(self, change: LevelChange, *, above: bool) -> int | None:
        """The first step after the early part where the trend leaves its early band (upwards, or
        downwards): the early level plus or minus twice its point-to-point noise, and at least 5%
        of it, so the noise of a flat start is not a turn."""
        width = max(2 * self.noise_sigma(self.trend_window), 0.05 * abs(change.early))
        level = change.early + width if above else change.early - width
        return self.first_crossing(level, after=change.early_end_step, above=above)

    def spread(self) -> float:
        """The 10-90% range: the scale of a metric whose sign and units are unknown (returns)."""
        if len(self) == 0:
            return 0.0
        low, high = percentiles(self.values, 10, 90)
        return high - low

    def peak(self, of: np.ndarray | None = None) -> tuple[float, int]:
        """The largest value (of the series, or of a rolling median of it) and its first step."""
        values = self.values if of is None else of
        at = int(np.nanargmax(values))
        return float(values[at]), int(self.steps[at])


@functools.lru_cache(maxsize=8)
def pairs(count: int) -> tuple[np.ndarray, np.ndarray]:
    """The indices (i, j) of each pair i < j of ``count`` points: made once, as Theil-Sen slopes
    and trend tests take their fixed number of points (or window) from every run."""
    i, j = np.triu_indices(count, k=1)
    i.flags.writeable = j.flags.writeable = False  # shared by every caller
    return i, j


def numbers(run: Run, metric: str) -> MetricNumbers:
    """The numeric core of one metric of one run, computed once and shared by every rule;
    an empty one when the run did not log the metric."""
    def compute() -> MetricNumbers:
        points = run.metrics.points(metric)
        return MetricNumbers(*points) if points is not None else MetricNumbers(np.empty(0), np.empty(0))

    return run.metrics.derived(("numbers", metric), compute)


def median(values: np.ndarray) -> float:
    """``np.median``'s value: the middle value, or the mean of the two middle ones, NaN when any
    is NaN or there are none. By a sort, or past ``_PARTITION_FROM`` values by one partition at
    the middle: numpy 2's median partitions around three places and is 1.4-4x slower than a sort
    at every length from 10 to a million values, and it imports numpy.ma (20 ms in every process
    that judges runs)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    count, middle = len(values), len(values) // 2
    if count > _PARTITION_FROM:
        if np.isnan(values).any():
            return math.nan
        parted = np.partition(values, middle)  # the lower middle is the largest value before it
        return float(parted[middle]) if count % 2 else float((parted[:middle].max() + parted[middle]) / 2)
    ordered = np.sort(values)
    if count == 0 or np.isnan(ordered[-1]):  # a sort puts NaN last
        return math.nan
    return float(ordered[middle]) if count % 2 else float((ordered[middle - 1] + ordered[middle]) / 2)


# Values from which a median partitions: 2.5x a sort at 20,000 values (a Theil-Sen slope's pairs),
# 1.6x at 4,096, slower under 2,000.
_PARTITION_FROM = 4096


def percentiles(values: np.ndarray, *percents: float) -> tuple[float, ...]:
    """``np.percentile``'s values of float values (its default, linear method) from one sort,
    as ``median`` is, and for the same reason: numpy's own imports numpy.ma on its first call."""
    ordered = np.sort(np.asarray(values, dtype=np.float64), axis=None)
    if len(ordered) == 0 or np.isnan(ordered[-1]):
        return tuple(math.nan for _ in percents)
    return tuple(_interpolated(ordered, (len(ordered) - 1) * (percent / 100)) for percent in percents)


def _interpolated(ordered: np.ndarray, index: float) -> float:
    """The value at a fractional index of sorted values, by numpy's lerp (from the nearer end,
    and at the last value as numpy clips there), so to the last bit what ``np.percentile`` gives."""
    if index >= len(ordered) - 1:
        below, low = -1, float(ordered[-1])
        high = low
    else:
        below = math.floor(index)
        low, high = float(ordered[below]), float(ordered[below + 1])
    weight = index - below
    step = high - low
    return high - step * (1 - weight) if weight >= 0.5 else low + step * weight


def row_medians(rows: np.ndarray) -> np.ndarray:
    """``np.median(rows, axis=1)`` by a sort, as ``median`` is."""
    ordered = np.sort(np.asarray(rows, dtype=np.float64), axis=1)
    count = ordered.shape[1]
    if count == 0:
        return np.full(len(ordered), math.nan)
    middle = count // 2
    medians = ordered[:, middle] if count % 2 else (ordered[:, middle - 1] + ordered[:, middle]) / 2
    return np.where(np.isnan(ordered[:, -1]), math.nan, medians)


def rolling_median(values: np.ndarray, window: int, min_count: int) -> np.ndarray:
    """The median of the ``window`` values ending at each one, NaN where fewer than
    ``min_count`` are there (or, in the window, not NaN). bottleneck's double heap is
    O(n log window) and gives pandas' rolling medians bit for bit, 30-40x faster."""
    import bottleneck

    n = len(values)
    if n == 0:
        return np.empty(0)
    if window > n:  # a window longer than the series: the points there are, as pandas counts them
        return bottleneck.move_median(np.concatenate([np.full(window - n, np.nan), values]), window,
                                      min_count=min_count)[window - n:]
    return bottleneck.move_median(values, window, min_count=min_count)


def centred_median(values: np.ndarray, window: int) -> np.ndarray:
    """pandas' ``rolling(window, center=True, min_periods=max(1, window // 2 + 1)).median()``."""
    ahead = (window - 1) // 2
    padded = np.concatenate([values, np.full(ahead, np.nan)]) if ahead else values
    return rolling_median(padded, window, max(1, window // 2 + 1))[ahead:]


def head_count(n: int, fraction: float, minimum: int = 3) -> int:
    """How many points make up the first ``fraction`` of a series of ``n`` points."""
    return min(n, max(minimum, int(math.ceil(n * fraction))))


def outcome_metric(run: Run) -> str | None:
    """The metric that says whether the agent is doing its job: return, else success rate."""
    for name in ("episode_return", "success_rate"):
        if name in run.metrics and len(numbers(run, name)) > 0:
            return name
    return None


# --- the LR as a cause ---------------------------------------------------------

# Schedules that already change the LR on their own; "adaptive" reacts to the KL,
# so a constant logged LR under it can be a healthy run that never needed to adapt.
NON_SCHEDULES = frozenset({"constant", "none", "fixed", "adaptive"})


def declared_schedule(run: Run) -> str | None:
    """What the config declared that should have changed the LR, in words, or None."""
    declared = []
    schedule = run.config.lr_schedule
    if schedule is not None and str(schedule.value).lower() not in NON_SCHEDULES:
        declared.append(f'LR schedule "{schedule.value}" ({schedule.source})')
    warmup = run.config.warmup
    if warmup is not None and warmup.value is True:
        declared.append(f"warmup ({warmup.source})")
    return " and ".join(declared) or None


def schedule_not_applied(run: Run) -> bool:
    return run.lr_shape.kind == "constant" and declared_schedule(run) is not None


def constant_on_recurrent(run: Run) -> bool:
    return run.lr_shape.kind == "constant" and run.architecture.recurrent is True


def starts_near_peak(run: Run, near_peak: float) -> bool:
    """A non-constant LR whose first value is already within ``near_peak`` of its peak: no warmup."""
    shape = run.lr_shape
    if shape.kind in ("constant", "not-logged", "unknown", "warmup", "warmup-decay"):
        return False
    initial, peak = shape.initial_lr, shape.peak_lr
    if initial is None or peak is None or peak <= 0:
        return False
    return initial >= near_peak * peak


def no_warmup_on_recurrent(run: Run, near_peak: float = 0.5) -> bool:
    return run.architecture.recurrent is True and starts_near_peak(run, near_peak)


@dataclass(frozen=True)
class LRCause:
    code: str
    text: str


def lr_cause(run: Run) -> LRCause | None:
    """The LR setting that explains a collapse on this run, if its logs show one.

    Most specific first: a declared schedule that never reached the optimizer
    (LRD011) is why the LR was constant (LRD002).
    """
    lr = lr_text(run.lr_shape.peak_lr)
    if schedule_not_applied(run):
        return LRCause("LRD011", f"declared {declared_schedule(run)} not applied; LR stayed constant at {lr}")
    if constant_on_recurrent(run):
        return LRCause("LRD002", f"constant LR {lr} on a {short_architecture(run)}")
    if no_warmup_on_recurrent(run):
        return LRCause("LRD003", f"LR schedule without warmup ({run.lr_shape.kind}, from {lr}) on a "
                                 f"{short_architecture(run)}")
    return None


@dataclass(frozen=True)
class Outcome:
    """Whether the return (or success rate) improved or dropped, early vs late."""

    metric: str
    early: float
    late: float
    best: float
    best_step: int
    scale: float

    def improved(self, by: float) -> bool:
        return self.late - self.early > by * self.scale

    def dropped(self, by: float) -> bool:
        return self.best - self.late > by * self.scale


def outcome(run: Run, early_fraction: float, late_fraction: float) -> Outcome | None:
    """Return (else success rate) early and late; None when neither is logged with enough points.

    The scale is the larger of the early level's size and the series' 10-90% range,
    because returns have no natural sign or unit.
    """
    metric = outcome_metric(run)
    if metric is None:
        return None
    values = numbers(run, metric)
    change = values.level_change(early_fraction, late_fraction)
    if change is None:
        return None
    best, best_step = values.peak(values.smooth(max(3, len(values) // 10)))
    scale = max(abs(change.early), values.spread(), 1e-12)
    return Outcome(metric, change.early, change.late, best, best_step, scale)


# --- config units ----------------------------------------------------------------


def unit_architecture(record: UnitRecord) -> str:
    """E.g. 'the recurrent GRU policy "graph_free" (model.recurrent.cell)'."""
    arch = record.architecture
    return config_architecture(arch.value, record.architecture_name, arch.key, arch.declared)


def config_lr_problem(record: UnitRecord, kind: str, why: str) -> Problem:
    """LRD002's or LRD003's finding on a unit: the key at fault, why, and the fix."""
    schedule = record.schedule
    fix = prescription.config_fix(record)
    evidence = {
        "unit": record.unit,
        "format": record.format,
        "key": schedule.key,
        "declared": schedule.declared,
        "lr": record.lr.value if record.lr is not None else None,
        "lr_schedule": kind,
        "architecture": record.architecture.value if record.architecture else None,
        "architecture_name": record.architecture_name,
        "architecture_key": record.architecture.key if record.architecture else None,
    }
    if schedule.origin:
        evidence["origin"] = schedule.origin
        why += f" ({schedule.key} inherited from {schedule.origin})"
    return Problem(f"{why}. Fix: {fix['config_text']}", evidence=evidence, fix=fix,
                   line=schedule.line, column=schedule.column)
