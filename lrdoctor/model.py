"""Plain data passed between the stages: runs (what was read) and findings (what is wrong).

Every stage takes and returns these; none of them knows about the CLI or the reporters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

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
    """Something the reader skipped or could not read, with where."""

    path: str
    message: str
    offset: int | None = None


@dataclass
class Run:
    """One training run as read from disk, normalised to canonical metrics.

    ``metrics`` maps a canonical metric name to a float Series indexed by step
    (int64), holding only the points that were logged; NaN/Inf values are kept.
    """

    name: str
    path: Path
    metrics: dict[str, pd.Series] = field(default_factory=dict)
    sources: dict[str, MetricSource] = field(default_factory=dict)
    step_axis: str = "unknown"
    library: str | None = None
    architecture: Architecture = field(default_factory=Architecture)
    config: RunConfig = field(default_factory=RunConfig)
    lr_shape: LRShape = field(default_factory=LRShape)
    unknown_tags: tuple[str, ...] = ()
    notes: tuple[ReadNote, ...] = ()

    @property
    def frame(self) -> pd.DataFrame:
        """All metrics side by side on the union of their steps (NaN where not logged)."""
        return pd.DataFrame(self.metrics).sort_index()

    @property
    def last_step(self) -> int | None:
        ends = [int(s.index.max()) for s in self.metrics.values() if len(s)]
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


@dataclass(frozen=True)
class RunResult:
    """A run and what the rules found in it: the unit reporters and plots consume."""

    run: Run
    findings: tuple[Finding, ...] = ()

    @property
    def worst(self) -> Severity | None:
        ranked = [f.severity for f in self.findings]
        return max(ranked, key=lambda s: s.rank) if ranked else None

    @property
    def verdict(self) -> str:
        """One word for tables, titles and colours: collapsed, error, warning, ok, unchecked.

        "ok" is only said of a run whose metrics were there to check.
        """
        if any(f.code == "LRD006" for f in self.findings):
            return "collapsed"
        worst = self.worst
        if worst is not None and worst is not Severity.info:
            return worst.value
        if not self.run.metrics:
            return "unchecked"
        return "ok"
