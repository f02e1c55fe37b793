"""The JSON report: stable, documented keys for tools and dashboards (schema version 1).

Non-finite numbers (NaN, Infinity, -Infinity) are data in lrdoctor (a KL of NaN is
a finding), and JSON has no literal for them: they are written as the strings
"NaN", "Infinity" and "-Infinity", so the file stays valid JSON and keeps which
one it was. Steps are integers, learning rates and metric values floats.
"""

from __future__ import annotations

import dataclasses
import math
from enum import Enum
from pathlib import PurePath
from typing import Any, Mapping

import numpy as np

from lrdoctor.model import Finding, ReadNote, RunConfig, RunResult, Sourced
from lrdoctor.report import Report, insight
from lrdoctor.report.indented import json_text
from lrdoctor.schedule import Schedule
from lrdoctor.version import VERSION

SCHEMA_VERSION = 1


def render(report: Report) -> str:
    document = {
        "version": SCHEMA_VERSION,
        "tool": {"name": "lrdoctor", "version": VERSION},
        "runs": [run_entry(result, report) for result in report.results],
        "problems": [note_entry(note) for note in report.problems],
        "sweep_figure": report.sweep_figure,
        "summary": summary(report),
        "insight": insight.json_entry(report.insight, report.insight_figure),
    }
    return json_text(document)


def run_entry(result: RunResult, report: Report) -> dict[str, Any]:
    run = result.run
    arch = run.architecture
    return {
        "path": str(run.path),
        "name": run.name,
        "architecture": {"kind": arch.kind, "recurrent": arch.recurrent, "name": arch.name, "source": arch.source},
        "library": run.library,
        "step_axis": run.step_axis,
        "last_step": run.last_step,
        "metrics": {metric: metric_entry(run, metric) for metric in run.metrics},
        "unknown_tags": list(run.unknown_tags),
        "config": config_entry(run.config),
        "settings": {key: {"value": plain(value.value), "source": value.source} for key, value in run.settings.items()},
        "lr_shape": plain(run.lr_shape),
        "verdict": result.verdict,
        "findings": [finding_entry(f) for f in result.findings],
        "notes": [note_entry(note) for note in run.notes],
        "figure": report.figure_of(result),
    }


def metric_entry(run, metric: str) -> dict[str, Any]:
    extent = run.metrics.extent(metric)
    source = run.sources.get(metric)
    return {
        "tag": source.tag if source else None,
        "negated": source.negated if source else False,
        "estimator": source.estimator if source else None,
        "points": extent.count,
        "first_step": extent.first_step,
        "last_step": extent.last_step,
    }


def config_entry(config: RunConfig) -> dict[str, Any]:
    """Each declared value as {"value", "source"}; null when the config did not declare it."""
    entry: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if isinstance(value, Sourced):
            entry[field.name] = {"value": plain(value.value), "source": value.source}
        elif field.name == "files":
            entry[field.name] = list(value)
        else:
            entry[field.name] = None
    return entry


def finding_entry(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code,
        "rule": finding.rule,
        "severity": plain(finding.severity),
        "message": finding.message,
        "step": finding.step,
        "evidence": plain(finding.evidence),
        "fix": plain(finding.fix),
        "caused_by": finding.caused_by,
    }


def note_entry(note: ReadNote) -> dict[str, Any]:
    return {"path": note.path, "offset": note.offset, "message": note.message, "kind": "note" if note.info else "problem"}


def summary(report: Report) -> dict[str, Any]:
    verdicts: dict[str, int] = {}
    for result in report.results:
        verdicts[result.verdict] = verdicts.get(result.verdict, 0) + 1
    return {
        "runs": len(report.results),
        "findings": report.counts,
        "verdicts": verdicts,
        "problems": len(report.problems),
    }


def plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, non-finite floats to strings, records to dicts."""
    kind = type(value)  # the plain types first, by identity: evidence is mostly these
    if kind is dict:
        return {str(k): plain(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [plain(v) for v in value]
    if kind is float:
        return _float(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _float(float(value))
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, Schedule):
        return {"parameters": value.parameters(), "phases": [p.to_dict() for p in value.phases]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    return str(value)


def _float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value
