"""Which settings separate a sweep's sick runs from its healthy ones: ranked, counted, tested.

A run is sick when its dynamics failed (verdict collapsed or unstable); at risk and ok runs
trained well, and unchecked ones (nothing logged to judge) are left out. Every setting that
varies across the judged runs (``Run.settings``) is split into two groups (a number at each
gap between its values, ``learning_rate >= 3e-02``; any other value against the rest) and the
split with the clearest difference is kept, with its counts and a p-value from
``insight.stats``. Across settings the p-values are corrected by Holm's method, as a sweep
tests them all at once.

What is never claimed: a seed as a cause (seeds vary by design, ``read.settings.is_seed``);
a separation where the sweep is too small for any split to be significant, however clean
("too few runs to say"); a setting whose every value is different and not a number (a run
name, a path) as anything but an identifier.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lrdoctor.insight import stats
from lrdoctor.model import RunResult
from lrdoctor.read.settings import is_seed
from lrdoctor.words import format_lr

SICK = ("collapsed", "unstable")
JUDGED = ("collapsed", "unstable", "at risk", "ok")
ALPHA = 0.05  # the level a separation must reach, after correcting for the settings tested
MIN_RUNS = 4  # fewer runs than this is no sweep: analyze prints no insight section
# Separations so weak that, even uncorrected, a coin would do as well are "varies without
# separating"; between this and a corrected ALPHA a setting is "suggestive", shown but not ranked.
SUGGESTIVE = 0.2


@dataclass(frozen=True)
class Group:
    """Runs with one value (or one side of a split) of a setting, and how many were sick."""

    label: str
    sick: int
    runs: int


@dataclass(frozen=True)
class Separation:
    """One setting judged against the verdicts.

    ``status``: "separates" (the corrected p is under ``ALPHA``), "suggestive" (a difference
    the sweep cannot yet confirm), "does not separate", or "too few runs" (no split of these
    runs could reach ``ALPHA``). ``inside`` is the sicker side of the best split, ``outside``
    the other; ``values`` the counts per value (at most ``MAX_VALUES`` of them).
    """

    setting: str
    status: str
    inside: Group
    outside: Group
    p_value: float  # the setting's own, over its splits
    p_adjusted: float  # after Holm's correction across the settings tested
    test: str
    values: tuple[Group, ...]
    known: int  # judged runs that declare the setting
    sources: tuple[str, ...]  # a few of the places it was read, e.g. "lr=3e-2_.../config.yaml:8 learning_rate"
    numeric: bool
    threshold: float | None = None  # a number setting's split: inside is >= (or <=) this
    inside_high: bool | None = None
    inside_values: tuple = ()  # the values on the sicker side (as compared: ``comparable``)
    within: str | None = None  # judged only among the runs on this side of another setting


@dataclass(frozen=True)
class Varying:
    """A setting that varies but is not judged: a seed, or an identifier (every value differs)."""

    setting: str
    values: int
    why: str


@dataclass(frozen=True)
class Recommendation:
    """The healthy side of a separating setting: what the runs that trained well had."""

    setting: str
    group: Group


@dataclass(frozen=True)
class RunPoint:
    """One judged run, as the figure draws it: its verdict, its health score, its settings."""

    name: str
    verdict: str
    kl_share_over: float | None  # share of logged KL points over the run's threshold; None: no KL
    settings: dict[str, Any]


@dataclass(frozen=True)
class Insight:
    """What separates a sweep's sick runs from the others.

    ``status``: "separated" (at least one setting separates), "not separated", "no sick run",
    "all sick", "too few runs" (no split of this many runs could be significant) or
    "no settings" (no setting varies across the runs).
    """

    status: str
    runs: int  # every run analysed
    judged: int  # those with a verdict to compare (not unchecked)
    sick: int
    sick_words: str  # "collapsed", "unstable", or "collapsed or unstable": what the sick runs were
    separations: tuple[Separation, ...]  # ranked: separating first, by corrected p
    varying_unjudged: tuple[Varying, ...]
    constant: tuple[str, ...]  # settings the same in every judged run that declares them
    recommendations: tuple[Recommendation, ...]
    points: tuple[RunPoint, ...]
    alpha: float = ALPHA
    # The runs on the healthy side of every separating setting at once (two or more of them).
    combined: Recommendation | None = None
    # Settings that separate the runs on the sick side of the top-ranked setting (an interaction).
    within: tuple[Separation, ...] = ()

    @property
    def separating(self) -> tuple[Separation, ...]:
        return tuple(s for s in self.separations if s.status == "separates")

    def with_status(self, *statuses: str) -> tuple[Separation, ...]:
        return tuple(s for s in self.separations if s.status in statuses)


MAX_VALUES = 12  # per-value counts listed up to this many values; with more, the split alone
MAX_SOURCES = 3


def sweep_insight(results: Sequence[RunResult]) -> Insight:
    """The insight of a sweep's results (any number of runs; under ``MIN_RUNS`` says so)."""
    judged = [r for r in results if r.verdict in JUDGED]
    sick = np.array([r.verdict in SICK for r in judged], dtype=bool)
    verdicts = sorted({r.verdict for r in judged if r.verdict in SICK}, key=SICK.index)
    sick_words = " or ".join(verdicts) if verdicts else "collapsed or unstable"
    points = tuple(_point(r) for r in judged)
    separations, unjudged, constant = _judged_settings(judged, sick)

    status = _status(len(judged), int(sick.sum()), separations)
    separations = _ranked(_corrected(separations)) if status not in ("no sick run", "all sick") else separations
    if status == "too few runs":
        separations = [_with(s, status="too few runs") for s in separations]
    if status == "not separated" and any(s.status == "separates" for s in separations):
        status = "separated"
    separating = [s for s in separations if s.status == "separates"]
    return Insight(
        status=status,
        runs=len(results),
        judged=len(judged),
        sick=int(sick.sum()),
        sick_words=sick_words,
        separations=tuple(separations),
        varying_unjudged=tuple(unjudged),
        constant=tuple(constant),
        recommendations=tuple(Recommendation(s.setting, s.outside) for s in separating),
        points=points,
        combined=_combined(separating, points),
        within=_within(separating[0], judged, sick) if separating else (),
    )


def _within(top: Separation, judged: list[RunResult], sick: np.ndarray) -> tuple[Separation, ...]:
    """What separates the runs on the sick side of the top setting from each other: an
    interaction ("architecture lstm, given a constant LR") the settings alone can blur. Tested
    and corrected as a sweep of its own; only what separates there is kept."""
    side = [i for i, r in enumerate(judged)
            if top.setting in r.run.settings and comparable(r.run.settings[top.setting].value) in top.inside_values]
    subset, labels = [judged[i] for i in side], sick[side]
    if not 0 < labels.sum() < len(labels) or stats.best_possible(len(labels), int(labels.sum()),
                                                                 int(labels.sum())) > ALPHA:
        return ()
    separations, _, _ = _judged_settings(subset, labels, skip=top.setting)
    found = [s for s in _ranked(_corrected(separations)) if s.status == "separates"]
    return tuple(_with(s, setting=s.setting, within=f"{top.setting} {top.inside.label}") for s in found)


def _judged_settings(
    judged: list[RunResult], sick: np.ndarray, skip: str | None = None
) -> tuple[list[Separation], list[Varying], list[str]]:
    """Every setting of these runs judged against their verdicts; seeds and identifiers apart;
    the settings equal in every run that declares them."""
    keys = sorted({key for r in judged for key in r.run.settings} - {skip})
    separations: list[Separation] = []
    unjudged: list[Varying] = []
    constant: list[str] = []
    for key in keys:
        known = [i for i, r in enumerate(judged) if key in r.run.settings]
        values = [comparable(judged[i].run.settings[key].value) for i in known]
        distinct = set(values)
        if len(distinct) < 2:
            constant.append(key)
            continue
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if is_seed(key):
            unjudged.append(Varying(key, len(distinct), "a seed: never a cause"))
            continue
        if not numeric and len(distinct) == len(values):
            unjudged.append(Varying(key, len(distinct), "a different value in every run: an identifier"))
            continue
        sources = tuple(dict.fromkeys(source_kind(judged[i].run.name, judged[i].run.settings[key].source)
                                      for i in known))[:MAX_SOURCES]
        separations.append(_separation(key, values, sick[known], numeric, sources))
    return separations, unjudged, constant


def _combined(separating: list[Separation], points: tuple[RunPoint, ...]) -> Recommendation | None:
    """The runs with the healthy value of every separating setting: the reverse view, what the
    runs that trained well had in common."""
    if len(separating) < 2:
        return None
    chosen = [p for p in points
              if all(s.setting in p.settings and p.settings[s.setting] not in s.inside_values for s in separating)]
    label = " and ".join(f"{s.setting} {s.outside.label}" for s in separating)
    return Recommendation(label, Group("", sum(p.verdict in SICK for p in chosen), len(chosen)))


def _status(judged: int, sick: int, separations: list[Separation]) -> str:
    if sick == 0:
        return "no sick run"
    if sick == judged:
        return "all sick"
    if not separations:
        return "no settings"
    # The cleanest split this sweep allows: the sick runs alone against the rest.
    if stats.best_possible(judged, sick, sick) > ALPHA:
        return "too few runs"
    return "not separated"


def _separation(key: str, values: list[Any], sick: np.ndarray, numeric: bool, sources: tuple[str, ...]) -> Separation:
    distinct = sorted(set(values)) if numeric else sorted(set(values), key=str)
    array = np.array(values, dtype=float) if numeric else np.array([str(v) for v in values], dtype=object)
    candidates: list[tuple[np.ndarray, str, str, float | None, bool | None]] = []
    if numeric:
        for low, high in _gaps(distinct):
            above = array >= high
            cmp_high, cmp_low = ("=", "=") if len(distinct) == 2 else (">=", "<=")
            candidates.append(
                (above, f"{cmp_high} {value_text(key, high)}", f"{cmp_low} {value_text(key, low)}", high, True)
            )
    else:
        for value in (distinct if len(distinct) > 2 else distinct[:1]):
            chosen = array == str(value)
            candidates.append((chosen, f"= {value_text(key, value)}", "other values" if len(distinct) > 2
                               else f"= {value_text(key, distinct[1])}", None, None))
    splits = np.array([c[0] for c in candidates])
    p, best, test = stats.min_p_permutation(splits, sick)
    inside_mask, inside_label, outside_label, threshold, high = candidates[best]
    inside = Group(inside_label, int((inside_mask & sick).sum()), int(inside_mask.sum()))
    outside = Group(outside_label, int((~inside_mask & sick).sum()), int((~inside_mask).sum()))
    sick_side = inside_mask
    if _rate(outside) > _rate(inside):
        inside, outside, sick_side = outside, inside, ~inside_mask
        high = None if high is None else not high
        if threshold is not None:  # the sicker side is the low one: name its own edge
            threshold = max(v for v in distinct if v < threshold)
    possible = min(stats.best_possible(len(values), int(sick.sum()), int(s.sum())) for s in splits)
    per_value = tuple(
        Group(value_text(key, v), int((array == (v if numeric else str(v)))[sick].sum()),
              int((array == (v if numeric else str(v))).sum()))
        for v in (distinct if len(distinct) <= MAX_VALUES else ())
    )
    status = "too few runs" if possible > ALPHA else "pending"
    inside_values = tuple(sorted({v for v, on in zip(values, sick_side) if on}, key=str))
    return Separation(key, status, inside, outside, p, p, test, per_value, len(values), sources, numeric,
                      threshold, high, inside_values)


_DIRECTORY_NAME = re.compile(r"^directory name '.*' ")


def source_kind(run_name: str, source: str) -> str:
    """Where a setting was read, without the run it was read in: every run of a sweep reads
    ``<run>/config.yaml:8 learning_rate``, and the kind of place is what is worth saying."""
    if source.startswith(run_name + "/"):
        source = source[len(run_name) + 1:]
    return _DIRECTORY_NAME.sub("directory name ", source)


MAX_SPLITS = 100  # a number with more values is split at this many quantiles of them


def _gaps(distinct: list) -> list[tuple[Any, Any]]:
    """The gaps a number setting is split at: between each two values, or for a setting of
    thousands of values (a learning rate drawn per run) between quantiles of them."""
    pairs = list(itertools.pairwise(distinct))
    if len(pairs) <= MAX_SPLITS:
        return pairs
    chosen = np.unique(np.linspace(0, len(pairs) - 1, MAX_SPLITS).round().astype(int))
    return [pairs[i] for i in chosen]


def _corrected(separations: list[Separation]) -> list[Separation]:
    """Holm across the settings that could show something; the others keep "too few runs"."""
    tested = [s for s in separations if s.status != "too few runs"]
    adjusted = stats.holm([s.p_value for s in tested])
    corrected = {id(s): a for s, a in zip(tested, adjusted)}
    result = []
    for s in separations:
        if id(s) not in corrected:
            result.append(s)
            continue
        a = corrected[id(s)]
        status = "separates" if a < ALPHA else "suggestive" if s.p_value < SUGGESTIVE else "does not separate"
        result.append(_with(s, p_adjusted=a, status=status))
    return result


_ORDER = {"separates": 0, "suggestive": 1, "does not separate": 2, "too few runs": 3, "pending": 4}


def _ranked(separations: list[Separation]) -> list[Separation]:
    """Separating first, by corrected p, then by how far apart the two sides' rates are."""
    return sorted(
        separations,
        key=lambda s: (_ORDER[s.status], s.p_adjusted, -abs(_rate(s.inside) - _rate(s.outside)), s.setting),
    )


def _with(separation: Separation, **changes: Any) -> Separation:
    return replace(separation, **changes)


def _rate(group: Group) -> float:
    return group.sick / group.runs if group.runs else 0.0


def comparable(value: Any) -> Any:
    """Values as compared across runs: 3 and 3.0 are one value, lists by their text."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, (list, tuple, dict)):
        return str(value)
    return value


def value_text(key: str, value: Any) -> str:
    """A setting's value as a person reads it: an LR as 3e-04, other numbers to 4 digits."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if "learning_rate" in key or key.endswith("lr"):
        return format_lr(float(value)) if value > 0 else f"{value:g}"
    return f"{value:.4g}"


def _point(result: RunResult) -> RunPoint:
    return RunPoint(
        result.run.name,
        result.verdict,
        kl_share_over(result),
        {key: comparable(value.value) for key, value in result.run.settings.items()},
    )


def kl_share_over(result: RunResult) -> float | None:
    """The share of a run's logged KL points over the threshold it was judged by: its health
    score, 0 for a run whose KL never went over, near 1 for one that ran away from the start."""
    points = result.run.metrics.points("kl")
    if points is None or not len(points[1]) or result.kl_threshold is None:
        return None
    values = points[1][np.isfinite(points[1])]
    if not len(values):
        return None
    threshold = result.kl_threshold  # the one its KL rule judged it by (None, above, when it did not run)
    share = float(np.mean(values > threshold))
    return share if math.isfinite(share) else None
