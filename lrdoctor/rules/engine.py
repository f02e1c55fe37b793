"""The engine: runs the selected rules over each run and turns their problems into findings.

The engine, not the rules, decides:
- which rules run (``Options.select``) and with which options;
- the severity: the one a rule gave a problem, else the configured one; a
  severity the user set explicitly for a rule always wins; on a run whose
  dynamics held (no collapse, no sustained KL excess, no NaN), a rule's
  ``SEVERITY_ON_A_HEALTHY_RUN`` (LRD002's warning) replaces a harsher one;
- LRD010 metric-missing: a rule whose ``REQUIRES`` a run does not meet is not
  run; one LRD010 per missing metric names the rules it kept from running, and a
  run with no canonical metric at all gets a single LRD010 saying nothing was checked;
- cause before symptoms: findings of the same run that another finding explains
  carry ``caused_by`` with that finding's code, and come after it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from types import MappingProxyType
from typing import Sequence

from lrdoctor import rules
from lrdoctor.model import Finding, Run, RunResult, dynamics_failed
from lrdoctor.rules import metric_missing
from lrdoctor.rules.common import Problem
from lrdoctor.rules.options import Options

METRIC_MISSING = "LRD010"
COLLAPSE, FORECAST = "LRD006", "LRD015"

# Who can explain whom, nearest cause first. A declared schedule that never
# reached the optimizer (LRD011) is why the LR was constant (LRD002); the LR
# setting is why the policy collapsed (LRD006); the collapse is why the KL, the
# entropy, the clip fraction and the critic went wrong.
SYMPTOMS = ("LRD001", "LRD004", "LRD005", "LRD008", "LRD009")
LR_CAUSES = ("LRD002", "LRD003", "LRD011")
CAUSES: dict[str, tuple[str, ...]] = {
    **{code: ("LRD006", *LR_CAUSES) for code in SYMPTOMS},
    "LRD006": LR_CAUSES,
    "LRD015": LR_CAUSES,  # the forecast: the same LR setting is why a collapse is coming
    "LRD002": ("LRD011",),
    "LRD003": ("LRD011",),
}


def analyze(runs: Sequence[Run], options: Options, keys: Sequence[str | None] = ()) -> list[RunResult]:
    """Every run with its findings, cause first, in the order the runs were given.

    ``keys`` (from ``ingest.Ingested.keys``) name what each run's metrics were read
    from; a run with a key has its result cached under it, its description and the
    options, so an unchanged sweep is not judged twice.
    """
    keys = list(keys) + [None] * (len(runs) - len(keys))
    return [_cached_result(run, key, options) for run, key in zip(runs, keys)]


# What a report prints of a judged run's points: the KL's peak and sparkline. Figures need them all.
REPORTED_POINTS = ("kl",)


def judged(run: Run, key: str | None, options: Options, *, keep_points: bool = True) -> RunResult:
    """One run's result, as ``analyze`` gives it (from the findings cache under ``key``, or judged);
    without ``keep_points`` its metrics keep only the points a report prints (``REPORTED_POINTS``)
    and the extent of the rest. ``ingest.load(judge=...)`` calls it where each run was read, so a
    sweep's results stream back small and the main process never holds every run's points."""
    result = _cached_result(run, key, options)
    result = replace(result, judged_by=dict(result.judged_by))  # a mappingproxy cannot go back from a worker
    if keep_points:
        return result
    return replace(result, run=replace(result.run, metrics=result.run.metrics.summarised(REPORTED_POINTS)))


def _cached_result(run: Run, key: str | None, options: Options) -> RunResult:
    if key is None:
        return judge(run, options)
    from lrdoctor.read.cache import entry_key, load_judgement, store_judgement

    judgement_key = entry_key("findings", key, _described(run), options.judging_text)
    cached = load_judgement(judgement_key)
    if cached is not None:
        findings, judged_by = cached
        return RunResult(run=run, findings=tuple(findings), judged_by=judged_by)
    result = judge(run, options)
    store_judgement(judgement_key, result.findings, result.judged_by)
    return result


def _described(run: Run) -> str:
    """Everything about a run but its metrics (which its key stands for), as text."""
    parts = (run.name, str(run.path), run.sources, run.step_axis, run.library, run.architecture, run.config,
             run.lr_shape, run.unknown_tags, run.notes, list(run.metrics))
    return repr(parts)


def judge(run: Run, options: Options) -> RunResult:
    """One run under these options: its findings, and what each rule that ran judged it by
    (``judged_by``: the KL threshold and where it came from), for the reporters to show."""
    present = metric_missing.present_metrics(run)
    if not present:
        problems = [metric_missing.nothing_checked(run, [c for c in rules.RULES if c in options.select])]
        findings = [finding(METRIC_MISSING, p, options, run=run.name) for p in problems if METRIC_MISSING in options.select]
        return RunResult(run=run, findings=tuple(_link_and_sort(findings)))
    findings: list[Finding] = []
    judged_by: dict[str, object] = {}
    missing: dict[str, list[str]] = {}
    for code, module in rules.RULES.items():
        if code not in options.select or not hasattr(module, "check"):
            continue
        unmet = metric_missing.unmet(module, present)
        for need in unmet:
            missing.setdefault(need, []).append(code)
        if unmet:
            continue
        rule_options = options.rule_options[code]
        for problem in module.check(run, rule_options):
            findings.append(finding(code, problem, options, run=run.name))
        if hasattr(module, "judged_by"):
            judged_by.update(module.judged_by(run, rule_options))
    if METRIC_MISSING in options.select:
        slugs = {code: module.SLUG for code, module in rules.RULES.items()}
        findings += [finding(METRIC_MISSING, metric_missing.missing(metric, codes, slugs), options, run=run.name)
                     for metric, codes in missing.items()]
    findings = _forecasts_before_the_collapse(findings)
    if not dynamics_failed(findings):
        findings = [_as_risk(f, options) for f in findings]
    return RunResult(run=run, findings=tuple(_link_and_sort(findings)), judged_by=MappingProxyType(judged_by))


def _forecasts_before_the_collapse(findings: list[Finding]) -> list[Finding]:
    """A forecast at or after the onset of the collapse the run had is no forecast: the
    collapse (LRD006) is named, and "collapse expected" after it would only contradict it.
    A forecast before the onset stays: it is the warning a live run got, with its lead."""
    onsets = [f.step for f in findings if f.code == COLLAPSE and f.step is not None]
    if not onsets:
        return findings
    return [f for f in findings if not (f.code == FORECAST and f.step is not None and f.step >= min(onsets))]


def _as_risk(found: Finding, options: Options) -> Finding:
    """A settings finding on a run that trained well is a risk, not a failure: a rule says
    how severe it then is (``SEVERITY_ON_A_HEALTHY_RUN``), unless the user set its severity."""
    healthy = getattr(rules.RULES[found.code], "SEVERITY_ON_A_HEALTHY_RUN", None)
    if healthy is None or found.code in options.severity_overridden or found.severity.rank <= healthy.rank:
        return found
    return replace(found, severity=healthy)


def findings_for(run: Run, options: Options) -> list[Finding]:
    """The findings of one run under these options."""
    return list(judge(run, options).findings)


def finding(code: str, problem: Problem, options: Options, *, run: str | None = None, file: str | None = None) -> Finding:
    """A rule's problem as a finding of a run or of a config file: the engine, not the rule,
    attaches the slug and the severity (the rule's own grade, unless the user set one)."""
    overridden = code in options.severity_overridden or problem.severity is None
    return Finding(
        code=code,
        rule=rules.RULES[code].SLUG,
        severity=options.severities[code] if overridden else problem.severity,
        message=problem.message,
        run=run,
        file=file,
        line=problem.line,
        column=problem.column,
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
