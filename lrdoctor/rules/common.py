"""What every rule shares: the Problem a rule yields, robust series statistics, and
the reading of the LR configuration that several rules name as the cause.

Rules are pure functions over a ``model.Run``; nothing here knows about options
files, severities from configuration, or reporters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from lrdoctor.configs.record import UnitRecord
from lrdoctor.model import Run, Severity
from lrdoctor.rules import prescription
from lrdoctor.words import config_architecture, lr_text, short_architecture

if TYPE_CHECKING:
    import pandas as pd

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


# --- series ------------------------------------------------------------------


def finite(series: pd.Series) -> pd.Series:
    """The finite points of a metric, in step order (NaN/Inf are LRD007's business)."""
    values = series.astype(float).sort_index()
    return values[np.isfinite(values.to_numpy())]


def head_count(n: int, fraction: float, minimum: int = 3) -> int:
    """How many points make up the first ``fraction`` of a series of ``n`` points."""
    return min(n, max(minimum, int(math.ceil(n * fraction))))


def smooth(series: pd.Series, window: int) -> pd.Series:
    """Centred rolling median: follows a trend, ignores isolated spikes."""
    return series.rolling(window, center=True, min_periods=max(1, window // 2 + 1)).median()


def sustained_mask(series: pd.Series, threshold: float, window: int) -> pd.Series:
    """True at each point that ends a window of ``window`` updates whose median is over ``threshold``.

    A median over the threshold means most of the window was over it: one spike
    cannot make it true, a run of excess updates does.
    """
    trailing = series.rolling(window, min_periods=window).median()
    return trailing > threshold


def first_sustained_step(series: pd.Series, threshold: float, window: int) -> int | None:
    """The first step over ``threshold`` inside the first window that is over it as a whole."""
    mask = sustained_mask(series, threshold, window).to_numpy()
    if not mask.any():
        return None
    end = int(np.argmax(mask))
    start = end - window + 1
    over = series.iloc[start:end + 1] > threshold
    return int(over[over].index[0])


def noise_sigma(series: pd.Series, window: int) -> float:
    """Point-to-point noise: the robust spread of the series around its rolling median."""
    residual = (series - smooth(series, window)).dropna().to_numpy()
    if residual.size == 0:
        return 0.0
    return float(MAD_TO_SIGMA * np.median(np.abs(residual - np.median(residual))))


def theil_sen_slope(series: pd.Series, max_points: int = 200) -> float:
    """Median of pairwise slopes per step: a trend one outlier cannot tilt."""
    if len(series) < 2:
        return 0.0
    picks = np.unique(np.linspace(0, len(series) - 1, min(len(series), max_points)).astype(int))
    x = series.index.to_numpy(dtype=float)[picks]
    y = series.to_numpy(dtype=float)[picks]
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    keep = dx != 0
    if not keep.any():
        return 0.0
    return float(np.median((y[j] - y[i])[keep] / dx[keep]))


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


def level_change(series: pd.Series, early_fraction: float, late_fraction: float) -> LevelChange | None:
    """Median of the first and of the last part of a series, and how sure the difference is."""
    values = finite(series)
    n = len(values)
    if n < MIN_TREND_POINTS:
        return None
    n_early = head_count(n, early_fraction)
    n_late = head_count(n, late_fraction)
    early, late = values.iloc[:n_early], values.iloc[n - n_late:]
    sigma = noise_sigma(values, max(3, n // 20))
    standard_error = MEDIAN_STANDARD_ERROR * sigma * math.sqrt(1 / n_early + 1 / n_late)
    return LevelChange(
        early=float(early.median()),
        late=float(late.median()),
        early_end_step=int(early.index[-1]),
        late_start_step=int(late.index[0]),
        noise=standard_error,
        slope=theil_sen_slope(values),
    )


def series_spread(series: pd.Series) -> float:
    """The 10-90% range: the scale of a metric whose sign and units are unknown (returns)."""
    values = finite(series).to_numpy()
    if values.size == 0:
        return 0.0
    return float(np.percentile(values, 90) - np.percentile(values, 10))


def outcome_metric(run: Run) -> str | None:
    """The metric that says whether the agent is doing its job: return, else success rate."""
    for name in ("episode_return", "success_rate"):
        if name in run.metrics and len(finite(run.metrics[name])) > 0:
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


def leaves_band(series: pd.Series, change: LevelChange, *, above: bool) -> int | None:
    """The first step after the early part where the series' trend leaves its early band (upwards,
    or downwards): the early level plus or minus twice its point-to-point noise, and at least 5%
    of it, so the noise of a flat start is not a turn."""
    values = finite(series)
    width = max(2 * noise_sigma(values, max(3, len(values) // 20)), 0.05 * abs(change.early))
    level = change.early + width if above else change.early - width
    return first_crossing(series, level, after=change.early_end_step, above=above)


def first_crossing(series: pd.Series, level: float, *, after: int, above: bool) -> int | None:
    """First step after ``after`` where the smoothed series is past ``level`` (above or below)."""
    values = finite(series)
    trend = smooth(values, max(3, len(values) // 20))
    later = trend[trend.index > after]
    past = later >= level if above else later <= level
    return int(past[past].index[0]) if past.any() else None


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
    change = level_change(run.metrics[metric], early_fraction, late_fraction)
    if change is None:
        return None
    values = finite(run.metrics[metric])
    trend = smooth(values, max(3, len(values) // 10))
    scale = max(abs(change.early), series_spread(values), 1e-12)
    return Outcome(metric, change.early, change.late, float(trend.max()), int(trend.idxmax()), scale)


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
