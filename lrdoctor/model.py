"""Plain data passed between the stages: runs (what was read) and findings (what is wrong).

Every stage takes and returns these; none of them knows about the CLI or the reporters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable, Iterator, Mapping, MutableMapping

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

Points = tuple[np.ndarray, np.ndarray]  # steps (int64), values (float64)

CANONICAL_METRICS = (
    "lr",
    "kl",
    "entropy",
    "clip_fraction",
    "value_loss",
    "policy_loss",
    "explained_variance",
    "episode_return",
    "success_rate",
)


class Severity(str, Enum):
    """Ordered: info < warning < error."""

    info = "info"
    warning = "warning"
    error = "error"

    @property
    def rank(self) -> int:
        return ("info", "warning", "error").index(self.value)


@dataclass(frozen=True)
class Sourced:
    """A value and where it was read from, e.g. ("gru", "config.yaml:3 policy_kwargs.rnn_type")."""

    value: Any
    source: str


@dataclass(frozen=True)
class Architecture:
    """What trains the policy. ``kind`` is one of gru, lstm, rnn, attention, mamba,
    mlp, cnn, unknown; ``recurrent`` is None when unknown. ``name`` is the name as
    the run spelled it (e.g. "graph_free"); ``source`` says where it was read."""

    kind: str = "unknown"
    recurrent: bool | None = None
    name: str | None = None
    source: str = "not found"

    @property
    def known(self) -> bool:
        return self.kind != "unknown"


@dataclass(frozen=True)
class MetricSource:
    """The tag that fed a canonical metric and how it was transformed."""

    tag: str
    negated: bool = False
    estimator: str | None = None  # for kl: "k1", "k3", "analytic"
    library: str | None = None


@dataclass(frozen=True)
class RunConfig:
    """What the run's configuration declared, each value None when not declared."""

    lr: Sourced | None = None
    lr_schedule: Sourced | None = None  # "constant", "linear", "warmup", "adaptive", ...
    warmup: Sourced | None = None  # bool: whether the config asks for warmup
    total_steps: Sourced | None = None
    target_kl: Sourced | None = None
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class LRShape:
    """The shape of the logged LR series.

    kind: constant, warmup-decay, warmup, linear-decay, step, cosine, adaptive,
    unknown, or not-logged (no LR tag: never reported as constant).
    """

    kind: str = "not-logged"
    peak_lr: float | None = None
    initial_lr: float | None = None
    final_lr: float | None = None
    warmup_fraction: float | None = None


@dataclass(frozen=True)
class ReadNote:
    """Something the reader skipped or could not read, with where; or, ``info``, something a
    reader of the report should know about how the run was read (a caveat of its tags, which
    of two records was used), which is no problem of the files."""

    path: str
    message: str
    offset: int | None = None
    info: bool = False


@dataclass(frozen=True)
class Extent:
    """How many points a metric had and the steps they spanned, kept when the points were let go."""

    count: int
    first_step: int | None
    last_step: int | None

    @classmethod
    def of(cls, steps: np.ndarray) -> Extent:
        return cls(len(steps), int(steps.min()), int(steps.max())) if len(steps) else cls(0, None, None)


@dataclass(frozen=True)
class Deferred:
    """A metric's points not loaded yet, and their extent, known without them: a cached run's
    arrays are checked and loaded only when first used, and a report of cached findings uses
    the KL's points and the extent of the rest. ``load`` raises when the points are damaged."""

    extent: Extent
    load: Callable[[], Points]


class Metrics(MutableMapping[str, "pd.Series"]):
    """A run's canonical metrics: name -> float Series indexed by step (int64, named "step").

    A metric read from disk or the cache is held as its two arrays and becomes a pandas
    Series the first time it is asked for. Whatever needs only the numbers (a report of
    cached findings) uses ``points`` and never imports pandas: that import alone costs more
    than a cached re-analysis of a 100-run sweep.
    """

    def __init__(self, series: Mapping[str, pd.Series] | None = None) -> None:
        self._data: dict[str, pd.Series | Points | Extent | Deferred] = dict(series or {})
        self._derived: dict = {}

    def derived(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """A value computed from these metrics once and kept (the rules share one rolling median
        of the KL); changing a metric forgets them all. Not pickled: a worker's statistics stay there."""
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]

    def __getstate__(self) -> dict:
        self.load_deferred()  # a loader holds an open entry: what is pickled is its points
        return {"_data": self._data}

    def __setstate__(self, state: dict) -> None:
        self._data, self._derived = state["_data"], {}

    @classmethod
    def from_points(cls, points: Mapping[str, Points | Deferred]) -> Metrics:
        metrics = cls()
        for name, held in points.items():
            metrics._data[name] = held if isinstance(held, Deferred) else _as_points(held)
        return metrics

    def points(self, name: str) -> Points | None:
        """A metric's (steps, values) as arrays, without pandas; None when it was not logged."""
        held = self._data.get(name)
        if isinstance(held, Extent):
            raise LookupError(f"{name}: only its extent was kept (Metrics.summarised)")
        if isinstance(held, Deferred):
            held = self._data[name] = _as_points(held.load())
        if held is None or isinstance(held, tuple):
            return held
        return held.index.to_numpy(), held.to_numpy(dtype=np.float64)

    def load_deferred(self) -> None:
        """Load every metric still deferred now (``Deferred``), so that a damaged one raises here."""
        for name, held in self._data.items():
            if isinstance(held, Deferred):
                self._data[name] = _as_points(held.load())

    def extent(self, name: str) -> Extent:
        """How many points a logged metric has, and its first and last step."""
        held = self._data[name]
        if isinstance(held, Extent):
            return held
        if isinstance(held, Deferred):
            return held.extent  # known without loading the points
        return Extent.of(self.points(name)[0])

    def summarised(self, keep: Iterable[str]) -> Metrics:
        """These metrics with the points of ``keep`` only and the extent of the rest: what a
        report prints of a run it has judged (the KL's peak and sparkline), so the results of a
        sweep do not hold every point of every run at once."""
        kept = Metrics()
        for name in self._data:
            kept._data[name] = self.points(name) if name in keep else self.extent(name)
        return kept

    def replaced(self, name: str, points: Points) -> Metrics:
        """These metrics with ``name``'s points replaced (a copy: a Run's metrics are shared)."""
        copy = Metrics()
        copy._data = {**self._data, name: _as_points(points)}
        return copy

    def __getitem__(self, name: str) -> pd.Series:
        held = self._data[name]
        if isinstance(held, Extent):
            raise LookupError(f"{name}: only its extent was kept (Metrics.summarised)")
        if isinstance(held, Deferred):
            held = self.points(name)
        if isinstance(held, tuple):
            import pandas as pd

            steps, values = held
            index = pd.Index(steps, dtype="int64", name="step", copy=False)
            held = self._data[name] = pd.Series(values, index=index, name=name, copy=False)
        return held

    def __setitem__(self, name: str, series: pd.Series) -> None:
        self._data[name] = series
        self._derived.clear()

    def __delitem__(self, name: str) -> None:
        del self._data[name]
        self._derived.clear()

    def __contains__(self, name: object) -> bool:
        return name in self._data  # Mapping's own would make a Series of it (and import pandas) to say so

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}: {self.extent(name).count} points" for name in self)
        return f"Metrics({sizes})"


def _as_points(points: Points) -> Points:
    return np.asarray(points[0], dtype=np.int64), np.asarray(points[1], dtype=np.float64)


@dataclass
class Run:
    """One training run as read from disk, normalised to canonical metrics.

    ``metrics`` maps a canonical metric name to a float Series indexed by step
    (int64), holding only the points that were logged; NaN/Inf values are kept.
    A plain dict of Series is accepted and wrapped.
    """

    name: str
    path: Path | str  # a str only for a run in object storage: its URL (read.remote)
    metrics: Metrics = field(default_factory=Metrics)
    sources: dict[str, MetricSource] = field(default_factory=dict)
    step_axis: str = "unknown"
    library: str | None = None
    architecture: Architecture = field(default_factory=Architecture)
    config: RunConfig = field(default_factory=RunConfig)
    lr_shape: LRShape = field(default_factory=LRShape)
    unknown_tags: tuple[str, ...] = ()
    notes: tuple[ReadNote, ...] = ()
    # Every declared hyperparameter in one flat key space (read.settings): key -> value and source.
    settings: Mapping[str, Sourced] = field(default_factory=dict)
    # Every file its config's defaults list was looked for as, found or not, wherever it lies
    # (configs.compose): inputs that lrdoctor.replay cannot find by walking the run's tree.
    looked_for: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.metrics, Metrics):
            self.metrics = Metrics(self.metrics)

    @property
    def last_step(self) -> int | None:
        ends = [last for last in (self.metrics.extent(name).last_step for name in self.metrics) if last is not None]
        return max(ends) if ends else None


@dataclass(frozen=True)
class Finding:
    """One problem, in a run or in a config file; the unit every reporter prints."""

    code: str
    rule: str
    severity: Severity
    message: str
    run: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    step: int | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    fix: Mapping[str, Any] | None = None
    caused_by: str | None = None


def finding_unit(finding: Finding) -> str | None:
    """The training unit a config finding is about, as every output names it; None for a run's."""
    name = finding.evidence.get("unit_name") or finding.evidence.get("unit")
    return str(name) if name else None


@dataclass(frozen=True)
class RunResult:
    """A run and what the rules found in it: the unit reporters and plots consume.

    ``judged_by`` holds the limits the rules that ran judged this run by (``kl_threshold``
    and its ``kl_threshold_source``), so a figure draws the threshold the rule used, even
    on a run where nothing went over it.
    """

    run: Run
    findings: tuple[Finding, ...] = ()
    judged_by: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kl_threshold(self) -> float | None:
        """The KL threshold the KL rule judged this run by (its own target_kl, say); None when it did not run."""
        found = next((f.evidence.get("threshold") for f in self.findings if f.code == "LRD001"), None)
        value = self.judged_by.get("kl_threshold", found)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        return None

    @property
    def worst(self) -> Severity | None:
        ranked = [f.severity for f in self.findings]
        return max(ranked, key=lambda s: s.rank) if ranked else None

    @property
    def verdict(self) -> str:
        """What happened to the run, apart from what is merely risky (one of ``VERDICTS``):

        - collapsed: the policy collapsed (LRD006);
        - unstable: its KL ran over its threshold for a sustained stretch (LRD001, sustained),
          or a metric went NaN/Inf (LRD007), without a collapse;
        - at risk: its dynamics held, but something is wrong or risky (a constant LR on a
          recurrent policy, a KL spike, a schedule that was not applied...);
        - ok: its metrics were there to check and nothing was found;
        - unchecked: none of the canonical metrics was logged.
        """
        if any(f.code == "LRD006" for f in self.findings):
            return "collapsed"
        if dynamics_failed(self.findings):
            return "unstable"
        worst = self.worst
        if worst is not None and worst is not Severity.info:
            return "at risk"
        if not self.run.metrics:
            return "unchecked"
        return "ok"


VERDICTS = ("collapsed", "unstable", "at risk", "ok", "unchecked")  # worst first


def dynamics_failed(findings: Iterable[Finding]) -> bool:
    """Whether the run itself went wrong: a collapse, a sustained KL excess, NaN/Inf metrics.
    A finding about the run's settings alone (LRD002 on a run that trained well) is a risk."""
    return any(
        f.code in ("LRD006", "LRD007") or (f.code == "LRD001" and f.evidence.get("sustained") is True)
        for f in findings
    )
