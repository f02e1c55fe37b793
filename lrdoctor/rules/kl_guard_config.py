"""LRD012 kl-guard-config: a training config whose KL guard is inert, missing or too loose.

Why: the collapse that started lrdoctor went unchecked because nothing reacted to
the KL: it reached 0.0334 against a target of 0.02 while the LR stayed where it
was. A KL guard stops that early, but only when it is switched on and tight:

- an inert threshold: a KL threshold that the configured LR schedule never reads,
  e.g. rl_games ``kl_threshold`` with ``lr_schedule: linear`` (rl_games reads it
  only for ``adaptive``), Sample Factory ``lr_schedule_kl_threshold`` with
  ``lr_schedule: constant``, skrl ``learning_rate_scheduler_kwargs.kl_threshold``
  without ``KLAdaptiveLR``;
- an adaptive schedule without its threshold: rl_games ``lr_schedule: adaptive``
  without ``kl_threshold`` (rl_games stops with a KeyError);
- a loose guard: an adaptive threshold or an SB3 ``target_kl`` above
  ``max_target_kl``;
- no guard (info): an SB3 / rl-baselines3-zoo recurrent policy without
  ``target_kl`` (SB3's default is None: no early stop).

Config files only (``lrdoctor check``); on logged runs LRD001 kl-exceeded judges
the KL itself. Feed-forward units are not judged unless ``feed_forward`` is set: an
inert ``kl_threshold`` is template boilerplate in most rl_games files, and a loose
guard matters most where the collapse happens, on recurrent policies. An inert
threshold on a recurrent unit is fixed by removing it, never by switching on an
adaptive schedule: that starts at the full LR, which LRD003 flags.

Options:
- ``feed_forward`` (false): also judge units whose architecture is known to be
  feed-forward.
- ``max_target_kl`` (0.05): a threshold or target_kl above this is loose.
- ``recommended_target_kl`` (0.02): the value the fix proposes, the threshold of
  the originating analysis.

Example::

    hyperparams/ppo_lstm.yml:12:3: LRD012 warning target_kl 0.1 is a loose KL guard:
    it stops an update only after the KL passes 0.1, above the 0.05 limit.
    Fix: set target_kl: 0.02
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from lrdoctor.configs.record import ADAPTIVE, Setting, UnitRecord, as_float, policy_gradient
from lrdoctor.model import Severity
from lrdoctor.rules.common import Problem, unit_architecture
from lrdoctor.rules.prescription import FORMAT_NAMES

CODE = "LRD012"
SLUG = "kl-guard-config"
SEVERITY = Severity.warning
SCOPE = "config"
REQUIRES: tuple = ()
OPTIONS = {"max_target_kl": 0.05, "recommended_target_kl": 0.02, "feed_forward": False}
LIMITS = {"max_target_kl": {"more_than": 0}, "recommended_target_kl": {"more_than": 0}}

ADAPTIVE_SCHEDULE_NAME = {
    "rl_games": "lr_schedule: adaptive",
    "sample-factory": "lr_schedule: kl_adaptive_epoch",
    "skrl": "learning_rate_scheduler: KLAdaptiveLR",
}


def check_config(record: UnitRecord, options: Mapping[str, Any]) -> Iterator[Problem]:
    """The unit's KL guard: inert, missing or loose, pointing at the key at fault."""
    if record.recurrent is False and not options["feed_forward"]:
        return
    if policy_gradient(record.algorithm) is False:  # a value-based algorithm has no policy KL to guard
        return
    max_kl = float(options["max_target_kl"])
    recommended = float(options["recommended_target_kl"])
    schedule = record.schedule
    adaptive = schedule is not None and schedule.value == ADAPTIVE
    threshold = record.kl_threshold
    base = {"unit": record.unit, "format": record.format}

    if threshold is not None and threshold.declared and not adaptive and schedule is not None:
        turn_on = ADAPTIVE_SCHEDULE_NAME.get(record.format, "an adaptive LR schedule")
        if record.recurrent is True:  # adaptive starts at the full LR: no fix for a recurrent policy
            fix = f"remove {threshold.key}, and give the LR a warmup (an adaptive schedule has none)"
        else:
            fix = f"set {turn_on}, or remove {threshold.key}"
        yield _problem(
            threshold,
            f"{threshold.key} {_show(threshold.value)} is inert: {FORMAT_NAMES.get(record.format, record.format)} "
            "reads it only with an adaptive "
            f"LR schedule, and {schedule.note or schedule.key}. Fix: {fix}",
            {**base, "kl_threshold": as_float(threshold.value), "lr_schedule": schedule.value},
        )
    elif adaptive and threshold is None and record.format == "rl_games":
        yield _problem(
            schedule,
            "lr_schedule adaptive without kl_threshold: rl_games reads params.config.kl_threshold for it and "
            f"stops with a KeyError. Fix: set kl_threshold: {recommended:g}",
            {**base, "kl_threshold": None, "lr_schedule": ADAPTIVE},
        )
    elif adaptive and threshold is not None and (as_float(threshold.value) or 0) > max_kl:
        value = as_float(threshold.value)
        yield _problem(
            threshold,
            f"{threshold.key} {value:g} is a loose KL guard: the adaptive schedule lowers the LR only once the "
            f"KL passes {value:g}, above the {max_kl:g} limit. Fix: set {threshold.key}: {recommended:g}",
            {**base, "kl_threshold": value, "max_target_kl": max_kl},
        )

    target = record.target_kl
    target_value = as_float(target.value) if target is not None else None
    if target_value is not None and target_value > max_kl:
        yield _problem(
            target,
            f"{target.key} {target_value:g} is a loose KL guard: it stops an update only after the KL passes "
            f"{target_value:g}, above the {max_kl:g} limit. Fix: set {target.key}: {recommended:g}",
            {**base, "target_kl": target_value, "max_target_kl": max_kl},
        )
    elif record.target_kl_applies and record.recurrent is True and target_value is None:
        where = target or record.schedule or record.architecture
        yield _problem(
            where,
            f"no target_kl on {unit_architecture(record)}: nothing stops an update whose KL runs away. "
            f"Fix: set target_kl: {recommended:g}",
            {**base, "target_kl": None},
            Severity.info,
        )


def _problem(where: Setting, message: str, evidence: Mapping[str, Any], severity: Severity | None = None) -> Problem:
    evidence = {**evidence, "key": where.key, "declared": where.declared}
    if where.origin:
        evidence["origin"] = where.origin
        head, fix = message.split(". Fix: ", 1) if ". Fix: " in message else (message, "")
        message = f"{head} ({where.key} inherited from {where.origin})" + (f". Fix: {fix}" if fix else "")
    return Problem(message, evidence=evidence, severity=severity, line=where.line, column=where.column)


def _show(value: Any) -> str:
    number = as_float(value)
    return f"{number:g}" if number is not None else repr(value)
