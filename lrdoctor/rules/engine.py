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

import dataclasses
import json
import math
from dataclasses import replace
from typing import Iterable, Sequence

from lrdoctor import rules
from lrdoctor.model import Finding, Run, RunResult, Severity
from lrdoctor.rules.common import Problem
from lrdoctor.rules.options import Options

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


def analyze(runs: Sequence[Run], options: Options, keys: Sequence[str | None] = ()) -> list[RunResult]:
    """Every run with its findings, cause first, in the order the runs were given.

    ``keys`` (from ``ingest.Ingested.keys``) name what each run's metrics were read
    from; a run with a key has its findings cached under it, its description and the
    options, so an unchanged sweep is not judged twice.
    """
    keys = list(keys) + [None] * (len(runs) - len(keys))
    return [RunResult(run=run, findings=tuple(_cached_findings(run, key, options))) for run, key in zip(runs, keys)]


def _cached_findings(run: Run, key: str | None, options: Options) -> list[Finding]:
    if key is None:
        return findings_for(run, options)
    from lrdoctor.read.cache import entry_key, load_entry, store_entry

    findings_key = entry_key("findings", key, _described(run), _options_text(options))
    entry = load_entry("findings", findings_key)
    if entry is not None:
        try:
            return [_decoded(item) for item in entry[0]["findings"]]
        except (KeyError, TypeError, ValueError):
            pass  # an entry not as written: judge the run again
    findings = findings_for(run, options)
    try:
        encoded = [_encoded(finding) for finding in findings]
    except TypeError:  # evidence JSON cannot hold: not cached
        return findings
    # Only what JSON gives back exactly is stored (a NaN in evidence would not be).
    if [_decoded(json.loads(json.dumps(item))) for item in encoded] == findings:
        store_entry("findings", findings_key, {"findings": encoded})
    return findings


def _described(run: Run) -> str:
    """Everything about a run but its metrics (which its key stands for), as text."""
    parts = (run.name, str(run.path), run.sources, run.step_axis, run.library, run.architecture, run.config,
             run.lr_shape, run.unknown_tags, run.notes, list(run.metrics))
    return repr(parts)


def _options_text(options: Options) -> str:
    return repr((
        sorted(options.select),
        sorted((code, severity.value) for code, severity in options.severities.items()),
        sorted((code, sorted(values.items())) for code, values in options.rule_options.items()),
        sorted(options.severity_overridden),
    ))


def _encoded(finding: Finding) -> dict:
    fields = {f.name: getattr(finding, f.name) for f in dataclasses.fields(finding)}
    return {**fields, "severity": Severity(finding.severity).value, "evidence": _packed(finding.evidence),
            "fix": _packed(finding.fix)}


def _decoded(item: dict) -> Finding:
    return Finding(**{**item, "severity": Severity(item["severity"]), "evidence": _unpacked(item["evidence"]),
                      "fix": _unpacked(item["fix"])})


def _packed(value):
    """JSON that keeps tuples tuples and dict keys what they were: containers are tagged."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, tuple):
        return ["t", [_packed(v) for v in value]]
    if isinstance(value, list):
        return ["l", [_packed(v) for v in value]]
    if isinstance(value, dict):
        return ["d", [[_packed(k), _packed(v)] for k, v in value.items()]]
    raise TypeError(f"not cacheable: {type(value).__name__}")


def _unpacked(value):
    if not isinstance(value, list):
        return value
    tag, items = value
    if tag == "t":
        return tuple(_unpacked(v) for v in items)
    if tag == "l":
        return [_unpacked(v) for v in items]
    if tag == "d":
        return {_unpacked(k): _unpacked(v) for k, v in items}
    raise ValueError(f"unknown container tag {tag!r}")


def findings_for(run: Run, options: Options) -> list[Finding]:
    """The findings of one run under these options."""
    present = {name for name in run.metrics if len(run.metrics.points(name)[0])}
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
