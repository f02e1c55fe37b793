"""LRD016 config-not-understood: a training unit lrdoctor read but could not understand.

Why: a gate may pass only what it judged. A unit whose LR schedule is a name or value
lrdoctor does not know, whose Hydra ``defaults:`` list cannot be composed (a parent
config not found), or whose LR, schedule or length is an interpolation that cannot be
resolved without the user's code (a custom resolver such as ``${resolve_default:...}``,
a reference to a task config that is not in the tree) was judged by no LR rule; so was a
unit with an LR that LRD002/LRD003 would flag but no architecture lrdoctor could find. Saying
nothing would read as "clean"; this says what was not understood, where.

Info by default, so a tree of unusual configs does not fail the gate; ``lrdoctor check
--strict`` makes it an error. LRD013 config-unreadable is for files and units that
could not be read at all.

Options: none besides ``severity``.

Example::

    cfg/train/AntLSTMPPO.yaml:3:5: LRD016 info params.config.learning_rate is
    ${resolve_default:1e-4,${...lr}}, which needs the custom resolver resolve_default:
    not resolved, so this unit's LR was not judged
"""

from __future__ import annotations

from typing import Iterator, Mapping

from lrdoctor.configs.record import ADAPTIVE, CONSTANT, NO_WARMUP, UNKNOWN, UnitRecord, policy_gradient
from lrdoctor.model import Severity
from lrdoctor.rules.common import Problem

CODE = "LRD016"
SLUG = "config-not-understood"
SEVERITY = Severity.info
SCOPE = "config"
REQUIRES: tuple = ()
OPTIONS: dict = {}
LIMITS: dict = {}


def check_config(record: UnitRecord, options: Mapping) -> Iterator[Problem]:
    """What the unit's reader could not understand, then a schedule of an unknown kind."""
    base = {"unit": record.unit, "format": record.format}
    for where in record.not_understood:
        composing = where.key.startswith("defaults")
        if record.recurrent is False and not composing:
            continue  # a feed-forward unit's unresolved length hides no LR finding
        message = where.note + (f" (inherited from {where.origin})" if where.origin else "")
        if not composing:
            message += ", so the LR rules judged this unit without it"
        evidence = {**base, "key": where.key, "reason": where.note}
        if where.origin:
            evidence["origin"] = where.origin
        yield Problem(message, evidence=evidence, line=where.line, column=where.column)
    schedule = record.schedule
    if (record.architecture is None and schedule is not None and schedule.value in (CONSTANT, NO_WARMUP, ADAPTIVE)
            and policy_gradient(record.algorithm) is not False):
        yield Problem(
            f"no architecture found in this unit, so LRD002/LRD003 could not judge its LR "
            f"({schedule.note or schedule.key}): on a recurrent policy this would be a finding",
            evidence={**base, "key": schedule.key, "reason": "architecture unknown"},
            line=schedule.line, column=schedule.column)
    if schedule is not None and schedule.value == UNKNOWN and record.recurrent is not False:
        what = schedule.note or f"{schedule.key} is not an LR schedule lrdoctor knows"
        yield Problem(f"{what}: the LR rules could not judge this unit's schedule",
                      evidence={**base, "key": schedule.key, "reason": "unknown schedule"},
                      line=schedule.line, column=schedule.column)
