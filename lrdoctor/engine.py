"""The engine: runs the selected rules over each run and turns their problems into findings.

The engine, not the rules, decides:
- which rules run (``Options.select``) and with which options;
- the severity: the one a rule gave a problem, else the configured one; a
  severity the user set explicitly for a rule always wins;
- LRD010 metric-missing: a rule whose ``REQUIRES`` a run does not meet is not
  run; one LRD010 per missing metric names the rules it kept from running, and a
  run with no canonical metric at all gets a single LRD010 saying nothing was checked;
- cause before symptoms: findings of the same run that another finding explains
  carry ``caused_by`` with that finding's code, and come after it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Iterable, Sequence

from lrdoctor import rules
from lrdoctor.model import Finding, Run, RunResult, Severity
from lrdoctor.options import Options
from lrdoctor.rules.common import Problem

METRIC_MISSING = "LRD010"

# Who can explain whom, nearest cause first. A declared schedule that never
# reached the optimizer (LRD011) is why the LR was constant (LRD002); the LR
# setting is why the policy collapsed (LRD006); the collapse is why the KL, the
# entropy, the clip fraction and the critic went wrong.
SYMPTOMS = ("LRD001", "LRD004", "LRD005", "LRD008", "LRD009")
LR_CAUSES = ("LRD002", "LRD003", "LRD011")
CAUSES: dict[str, tuple[str, ...]] = {
    **{code: ("LRD006", *LR_CAUSES) for code in SYMPTOMS},
    "LRD006": LR_CAUSES,
    "LRD002": ("LRD011",),
    "LRD003": ("LRD011",),
}

# Plain words for a missing metric in an LRD010 message.
_METRIC_WORDS = {
    "lr": "learning rate (an LR that is not logged is never assumed constant)",
    "kl": "KL",
    "entropy": "entropy",
    "clip_fraction": "clip fraction",
    "value_loss": "value loss",
    "explained_variance": "explained variance",
    "episode_return": "episode return",
    "success_rate": "success rate",
}


def analyze(runs: Sequence[Run], options: Options) -> list[RunResult]:
    """Every run with its findings, cause first, in the order the runs were given."""
    return [RunResult(run=run, findings=tuple(findings_for(run, options))) for run in runs]


def findings_for(run: Run, options: Options) -> list[Finding]:
    """The findings of one run under these options."""
    present = {name for name, series in run.metrics.items() if len(series)}
    if not present:
        return _link_and_sort(_nothing_checked(run, options))
    findings: list[Finding] = []
    missing: dict[str, list[str]] = {}
    for code, module in rules.RULES.items():
        if code not in options.select or not hasattr(module, "check") or not rules.run_scoped(code):
            continue
        unmet = [need for need in module.REQUIRES if not _met(need, present)]
        if unmet:
            for need in unmet:
                missing.setdefault(_need_text(need), []).append(code)
            continue
        for problem in module.check(run, options.rule_options[code]):
            findings.append(_finding(code, problem, run, options))
    if METRIC_MISSING in options.select:
        findings += [_metric_missing(run, metric, codes, options) for metric, codes in missing.items()]
    return _link_and_sort(findings)


def _met(need: str | tuple[str, ...], present: set[str]) -> bool:
    alternatives = (need,) if isinstance(need, str) else need
    return any(name in present for name in alternatives)


def _need_text(need: str | tuple[str, ...]) -> str:
    return need if isinstance(need, str) else " or ".join(need)


def _severity(code: str, problem: Problem, options: Options) -> Severity:
    if code in options.severity_overridden or problem.severity is None:
        return options.severities[code]
    return problem.severity


def _finding(code: str, problem: Problem, run: Run, options: Options) -> Finding:
    return Finding(
        code=code,
        rule=rules.RULES[code].SLUG,
        severity=_severity(code, problem, options),
        message=problem.message,
        run=run.name,
        step=problem.step,
        evidence={key: _tidy(value) for key, value in problem.evidence.items()},
        fix=dict(problem.fix) if problem.fix is not None else None,
        caused_by=problem.caused_by,
    )


def _tidy(value):
    """Evidence numbers to 6 significant digits: float32 logs give 0.0334 as 0.033399999141693115."""
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.6g}")
    if isinstance(value, (list, tuple)):
        return [_tidy(item) for item in value]
    return value


def _metric_missing(run: Run, metric: str, codes: Iterable[str], options: Options) -> Finding:
    codes = list(codes)
    names = ", ".join(f"{rules.RULES[c].SLUG} ({c})" for c in codes)
    words = " or ".join(_METRIC_WORDS.get(m, m) for m in metric.split(" or "))
    problem = Problem(
        message=f"no {metric} ({words}) logged: {names} not checked",
        evidence={"metric": metric, "rules": codes},
    )
    return _finding(METRIC_MISSING, problem, run, options)


def _nothing_checked(run: Run, options: Options) -> list[Finding]:
    if METRIC_MISSING not in options.select:
        return []
    unknown = len(run.unknown_tags)
    hint = ""
    if unknown:
        hint = f"; {unknown} tag{'s' if unknown != 1 else ''} not recognised (map one with --tag metric=tag)"
    problem = Problem(
        message=f"nothing could be checked: none of the canonical metrics was found in this run{hint}",
        evidence={"metric": None, "rules": [c for c in rules.RULES if c in options.select and c != METRIC_MISSING],
                  "unknown_tags": list(run.unknown_tags[:20])},
    )
    return [_finding(METRIC_MISSING, problem, run, options)]


def _link_and_sort(findings: list[Finding]) -> list[Finding]:
    """Point each finding to the nearest present finding that explains it; causes first."""
    present = {f.code for f in findings}
    linked = []
    for finding in findings:
        cause = finding.caused_by if finding.caused_by in present else None
        if cause is None:
            cause = next((c for c in CAUSES.get(finding.code, ()) if c in present), None)
        linked.append(_replace_cause(finding, cause))
    by_code = {f.code: f for f in linked}

    def depth(finding: Finding) -> int:
        hops, seen = 0, {finding.code}
        while finding.caused_by and finding.caused_by not in seen:
            seen.add(finding.caused_by)
            finding = by_code[finding.caused_by]
            hops += 1
        return hops

    return sorted(linked, key=lambda f: (depth(f), -f.severity.rank, f.code, f.step if f.step is not None else -1))


def _replace_cause(finding: Finding, cause: str | None) -> Finding:
    return finding if finding.caused_by == cause else replace(finding, caused_by=cause)
