"""LRD010 metric-missing: a rule could not run because the run did not log what it needs.

Why: "no findings" must only be said of what was checked. A run without a KL
tag has not passed the KL checks, it has skipped them; a run whose LR was not
logged is never assumed to have a constant LR. This finding says which rules
did not run and which metric they were missing, so the report does not call an
unchecked run healthy. A run with none of the canonical metrics (no known tag)
gets a single LRD010 saying nothing could be checked; ``--tag metric=tag`` maps
a tag lrdoctor does not know.

The engine emits it (rules declare the metrics they need in ``REQUIRES``), once
per missing metric, naming every rule it kept from running.

Options: none besides ``severity`` (info by default; ignore it with
``ignore = ["metric-missing"]`` when a library simply does not log a metric).

Example::

    LRD010 info no kl (KL) logged: kl-exceeded (LRD001), policy-collapse (LRD006) not checked
"""

from __future__ import annotations

from types import ModuleType
from typing import Iterable, Mapping

from lrdoctor.model import Run, Severity
from lrdoctor.rules.common import Problem
from lrdoctor.words import MISSING_METRIC_WORDS

CODE = "LRD010"
SLUG = "metric-missing"
SEVERITY = Severity.info
SCOPE = "run"
REQUIRES: tuple = ()
OPTIONS: dict = {}


def present_metrics(run: Run) -> set[str]:
    """The canonical metrics this run logged at least one point of."""
    return {name for name in run.metrics if len(run.metrics.points(name)[0])}


def unmet(module: ModuleType, present: set[str]) -> list[str]:
    """What a rule ``REQUIRES`` that the run did not log, each need as "kl" or "entropy or episode_return"."""
    return [need if isinstance(need, str) else " or ".join(need)
            for need in module.REQUIRES if not _met(need, present)]


def _met(need: str | tuple[str, ...], present: set[str]) -> bool:
    alternatives = (need,) if isinstance(need, str) else need
    return any(name in present for name in alternatives)


def missing(metric: str, codes: Iterable[str], slugs: Mapping[str, str]) -> Problem:
    """The one LRD010 for a metric: which rules it kept from running."""
    codes = list(codes)
    names = ", ".join(f"{slugs[c]} ({c})" for c in codes)
    words = " or ".join(MISSING_METRIC_WORDS.get(m, m) for m in metric.split(" or "))
    return Problem(
        message=f"no {metric} ({words}) logged: {names} not checked",
        evidence={"metric": metric, "rules": codes},
    )


def nothing_checked(run: Run, selected: Iterable[str]) -> Problem:
    """The single LRD010 of a run with no canonical metric at all: nothing was checked."""
    unknown = len(run.unknown_tags)
    hint = ""
    if unknown:
        hint = f"; {unknown} tag{'s' if unknown != 1 else ''} not recognised (map one with --tag metric=tag)"
    return Problem(
        message=f"nothing could be checked: none of the canonical metrics was found in this run{hint}",
        evidence={"metric": None, "rules": [c for c in selected if c != CODE],
                  "unknown_tags": list(run.unknown_tags[:20])},
    )
