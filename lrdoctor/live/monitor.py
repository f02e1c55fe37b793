"""The rules inside any training loop: a plain object a loop feeds its metrics, and the one
policy that decides when a finding stops training (shared with the SB3 callback).

Three lines in a CleanRL-style loop::

    from lrdoctor.live.monitor import Monitor

    monitor = Monitor(architecture="lstm", total_steps=args.total_timesteps, target_kl=args.target_kl)
    for update in range(num_updates):
        ...  # collect a rollout, then train on it
        for finding in monitor.update(global_step, {"lr": lr, "kl": approx_kl, "entropy": entropy,
                                                    "episode_return": mean_return}):
            print(finding.code, finding.message)
        if monitor.should_stop:
            break

Metrics are given by their canonical names (``lr``, ``kl``, ``entropy`` as +H,
``clip_fraction``, ``value_loss``, ``policy_loss``, ``explained_variance``,
``episode_return``, ``success_rate``); any other key is ignored.

Acting on the early warning: ``on_warning="stop"`` stops at the first finding about the
dynamics of warning severity or above after the grace period (the collapse forecast,
LRD015, is the one meant: it fires before the collapse); ``on_warning="lower_lr"`` instead
switches to the recommended warmup schedule from that step (``Relaunch``): the LR drops to
a hundredth of the one in use and warms up again over the steps that remain. Given an
``optimizer`` (anything with torch's ``param_groups``), the monitor sets its LR at each
update from then on; ``monitor.lr(step)`` says the LR to use for a loop that sets it itself::

    monitor = Monitor(architecture="lstm", total_steps=args.total_timesteps, on_warning="lower_lr",
                      optimizer=optimizer)

When to stop: a finding about the run's settings (a constant LR on a recurrent policy,
LRD002; no warmup, LRD003; a schedule that was not applied, LRD011; an unknown
architecture, LRD014) is known before the first update: it is reported once and never
stops training unless ``stop_on_static``. A finding about the dynamics stops training at
``stop_on`` severity or above, but not within the first ``grace_updates`` updates (a
fresh policy's first updates are noisy). ``select``/``ignore`` pick rules by code, slug
or prefix, as on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from lrdoctor import rules
from lrdoctor.arch import KINDS, is_recurrent, kind_of
from lrdoctor.live.watch import new_findings
from lrdoctor.model import CANONICAL_METRICS, Architecture, Finding, Run, RunConfig, RunResult, Severity, Sourced
from lrdoctor.read.build import Logged, build_run
from lrdoctor.read.discover import FoundRun
from lrdoctor.read.metadata import Metadata
from lrdoctor.read.tags import TagRule, override_rules, wanted_pattern
from lrdoctor.rules import engine
from lrdoctor.rules.options import Options, load_options
from lrdoctor.schedule import Schedule

STOP_ON = ("error", "warning", None)
ON_WARNING = (None, "stop", "lower_lr")
# From the replay of every real run in tests/ (scripts/measure_forecast.py, README): the
# earliest collapse onset came at update 10 (SB3 PPO at 5e-2, seed 100), so a stop must be
# allowed by update 9; the forecast needs 6 updates (its window) and fired at update 6 to 8
# on every collapse, with no false alarm on the healthy runs. Five updates keep a fresh policy's
# first noisy readings (a KL spike at update 2) from stopping a run, and leave that margin.
GRACE_UPDATES = 5


@dataclass(frozen=True)
class StopPolicy:
    """When a finding stops training."""

    stop_on: str | None = "error"
    grace_updates: int = GRACE_UPDATES
    stop_on_static: bool = False
    on_warning: str | None = None

    def __post_init__(self) -> None:
        if self.stop_on not in STOP_ON:
            raise ValueError(f"stop_on must be 'error', 'warning' or None, not {self.stop_on!r}")
        if self.on_warning not in ON_WARNING:
            raise ValueError(f"on_warning must be 'stop', 'lower_lr' or None, not {self.on_warning!r}")
        if isinstance(self.grace_updates, bool) or not isinstance(self.grace_updates, int) or self.grace_updates < 0:
            raise ValueError(f"grace_updates must be a whole number of updates, 0 or more, not {self.grace_updates!r}")

    def stops(self, finding: Finding, updates: int) -> bool:
        """Whether ``finding``, first seen after ``updates`` updates, stops training."""
        if self.stop_on is None or finding.severity.rank < Severity(self.stop_on).rank:
            return False
        if rules.static(finding.code):
            return self.stop_on_static
        return updates > self.grace_updates

    def warns(self, finding: Finding, updates: int) -> bool:
        """Whether ``finding`` calls for the ``on_warning`` action: one about the dynamics (the
        forecast, or worse), at warning or above, after the grace period."""
        return (self.on_warning is not None and finding.severity.rank >= Severity.warning.rank
                and not rules.static(finding.code) and updates > self.grace_updates)


@dataclass(frozen=True)
class Relaunch:
    """The recommended schedule started again at ``from_step``, for the ``total_steps`` that
    remain: what ``on_warning="lower_lr"`` switches a run to. Picklable (SB3 saves its schedule)."""

    schedule: Schedule
    from_step: int

    def lr(self, step: float) -> float:
        return self.schedule.lr(max(0.0, float(step) - self.from_step))

    def sb3(self, learn_total_timesteps: int) -> SB3Relaunch:
        return SB3Relaunch(self, learn_total_timesteps)

    def words(self) -> str:
        first, ramp = self.schedule.knots[0][1], self.schedule.knots[2]
        return (f"LR lowered to the recommended warmup schedule from step {self.from_step:,}: {first:.3g} now, "
                f"back to {self.schedule.base_lr:.3g} by step {self.from_step + ramp[0]:,}, then decaying to "
                f"{self.schedule.knots[-1][1]:.3g} at step {self.from_step + self.schedule.total_steps:,}")


@dataclass(frozen=True)
class SB3Relaunch:
    """``model.lr_schedule`` for SB3: it calls it with progress_remaining = 1 - num_timesteps /
    _total_timesteps (``OnPolicyAlgorithm.learn``), so the step is recovered from it."""

    relaunch: Relaunch
    total_timesteps: int

    def __call__(self, progress_remaining: float) -> float:
        return self.relaunch.lr((1.0 - progress_remaining) * self.total_timesteps)


def relaunch(current_lr: float, step: int, total_steps: int | None) -> Relaunch:
    """The recommended schedule from ``step``, its base the LR in use, over the steps left
    (at least as many as were done, when the total is unknown or already passed)."""
    left = total_steps - step if total_steps is not None and total_steps > step else max(step, 1)
    return Relaunch(Schedule(base_lr=current_lr, total_steps=int(left)), int(step))


def live_options(select: Iterable[str] | None, ignore: Iterable[str] | None, options: Options | None) -> Options:
    """The rule options of a live run: given ones, else the project's, with ``select``/``ignore`` applied."""
    if options is not None and select is None and ignore is None:
        return options
    return load_options(select=list(select) if select else None, ignore=list(ignore) if ignore else None)


class Recorder:
    """The values a training loop logged, per tag, in the order they came: steps and values,
    built into a Run by the one builder (``read.build``). ``library`` names the tag table to map
    them with (the SB3 callback records SB3's tags); ``overrides`` map tags of other names."""

    def __init__(self, library: str | None = None, overrides: tuple[TagRule, ...] = ()) -> None:
        self.series: dict[str, tuple[list[int], list[float]]] = {}
        self.library = library
        self.overrides = overrides

    def add(self, step: int, values: Mapping[str, Any]) -> None:
        for tag, value in values.items():
            found = number(value)
            if found is not None:
                steps, numbers = self.series.setdefault(tag, ([], []))
                steps.append(int(step))
                numbers.append(found)

    def run(self, name: str, path: Path, architecture: Architecture, config: RunConfig) -> Run:
        """What was recorded so far as a Run; the architecture and config are the loop's own, not read from files."""
        scalars = {
            tag: (np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64))
            for tag, (steps, values) in self.series.items()
        }
        return build_run(
            FoundRun(path=path, root=path, name=name),
            Logged(scalars, tags=scalars.keys(), library=self.library),
            wanted_pattern(self.overrides),
            self.overrides,
            metadata=Metadata(architecture, config),
        )


class Monitor:
    """lrdoctor's rules on a training loop's metrics, fed one update at a time."""

    def __init__(
        self,
        name: str = "run",
        *,
        architecture: str | None = None,
        base_lr: float | None = None,
        total_steps: int | None = None,
        target_kl: float | None = None,
        stop_on: str | None = "error",
        grace_updates: int = GRACE_UPDATES,
        stop_on_static: bool = False,
        select: Iterable[str] | None = None,
        ignore: Iterable[str] | None = None,
        options: Options | None = None,
        on_warning: str | None = None,
        optimizer: Any = None,
    ) -> None:
        self.name = name
        self.policy = StopPolicy(stop_on, grace_updates, stop_on_static, on_warning)
        self.optimizer = optimizer
        self.warned_by: Finding | None = None
        self.relaunched: Relaunch | None = None
        self.options = live_options(select, ignore, options)
        self.architecture = (
            named_architecture(architecture, "Monitor") if architecture
            else Architecture(source="not given (Monitor(architecture=...))")
        )
        self.config = RunConfig(
            lr=_sourced(base_lr, "Monitor(base_lr=...)"),
            total_steps=_sourced(total_steps, "Monitor(total_steps=...)", whole=True),
            target_kl=_sourced(target_kl, "Monitor(target_kl=...)"),
        )
        self.updates = 0
        self.result: RunResult | None = None
        self.findings: list[Finding] = []
        self.stopped_by: Finding | None = None
        # Metrics go by their canonical names: each maps to itself.
        self.recorder = Recorder(overrides=override_rules({metric: metric for metric in CANONICAL_METRICS}))
        self._reported: dict[tuple, Severity] = {}

    @property
    def should_stop(self) -> bool:
        return self.stopped_by is not None

    def update(self, step: int, metrics: Mapping[str, Any]) -> list[Finding]:
        """Record one update's metrics at ``step`` (e.g. env steps) and return the findings new in it."""
        self.updates += 1
        self.recorder.add(step, {metric: value for metric, value in metrics.items() if metric in CANONICAL_METRICS})
        run = self.recorder.run(self.name, Path(self.name), self.architecture, self.config)
        self.result = engine.analyze([run], self.options)[0]
        fresh = new_findings(self.result.findings, self.name, self._reported)
        self.findings += fresh
        if self.stopped_by is None:
            self.stopped_by = next((f for f in fresh if self.policy.stops(f, self.updates)), None)
        if self.warned_by is None:
            self.warned_by = next((f for f in fresh if self.policy.warns(f, self.updates)), None)
            if self.warned_by is not None:
                self._act(step, metrics)
        if self.relaunched is not None and self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = self.relaunched.lr(step)
        return fresh

    def lr(self, step: int) -> float | None:
        """The LR to train with at ``step`` once ``on_warning="lower_lr"`` has acted; None before."""
        return self.relaunched.lr(step) if self.relaunched is not None else None

    def _act(self, step: int, metrics: Mapping[str, Any]) -> None:
        if self.policy.on_warning == "stop":
            self.stopped_by = self.stopped_by or self.warned_by
            return
        current = self._current_lr(metrics)
        if current is None:  # nothing says which LR to lower: stopping is the safe action
            self.stopped_by = self.stopped_by or self.warned_by
            return
        total = self.config.total_steps.value if self.config.total_steps else None
        self.relaunched = relaunch(current, step, total)

    def _current_lr(self, metrics: Mapping[str, Any]) -> float | None:
        groups = getattr(self.optimizer, "param_groups", None)
        candidates = [groups[0].get("lr") if groups else None, metrics.get("lr"),
                      self.config.lr.value if self.config.lr else None]
        return next((float(v) for v in map(number, candidates) if v is not None and v > 0), None)


def named_architecture(name: str, given_to: str) -> Architecture:
    """``architecture="gru"`` (or a name such as "graph_free_gru") given to ``given_to``."""
    kind = name.lower() if name.lower() in KINDS else (kind_of(name) or "unknown")
    return Architecture(kind, is_recurrent(kind), name, f"{given_to}(architecture=...)")


def _sourced(value: Any, source: str, whole: bool = False) -> Sourced | None:
    found = number(value)
    if found is None or not found > 0:
        return None
    return Sourced(int(found) if whole else found, source)


def number(value: Any) -> float | None:
    """A logged value as a float; None for text, booleans, arrays and other non-scalars
    (a numpy or torch scalar counts: a loop logs ``loss.item()`` or the tensor alike)."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()  # a numpy or torch scalar
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    return float(value)
