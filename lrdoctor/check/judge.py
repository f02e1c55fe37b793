"""The config checks: what a unit's LR settings will do to a recurrent policy.

- LRD002 constant-lr-recurrent: the LR never changes (a plain number, a schedule named
  constant, warmup switched off, or a list of warmed-up architectures that leaves the
  active one out while nothing else schedules it). Points at the key at fault.
- LRD003 no-warmup-recurrent: the LR follows a schedule that starts at or near its
  peak (zoo ``lin_``, rl_games ``linear``, an RLlib ``lr_schedule`` starting at its max).
- LRD012 kl-guard-config: the KL guard is inert, missing or too loose.

Each problem carries one sentence of why and the fix: the recommended schedule for
the unit's base LR and length, in the format's own syntax where it has one. The
engine, not this module, attaches slugs and configured severities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from lrdoctor.configs.record import ADAPTIVE, CONSTANT, NO_WARMUP, WARMUP, Setting, UnitRecord, as_float
from lrdoctor.model import Severity
from lrdoctor.schedule import Schedule
from lrdoctor.words import format_lr, format_steps

# When a config does not say how long it trains, the schedule is drawn for the
# length of the run that started lrdoctor, and the fix says so.
DEFAULT_TOTAL_STEPS = 20_000_000
DEFAULT_BASE_LR = 3e-4
DEFAULT_NEAR_PEAK = 0.5  # LRD003's own default, used when its options are not given

# Where each format declares its length, for "set <key>" advice.
TOTAL_STEPS_KEY = {
    "rl-baselines3-zoo": "n_timesteps",
    "stable-baselines3": "total_timesteps",
    "rllib": "stop.timesteps_total",
    "sample-factory": "train_for_env_steps",
    "rl_games": "params.config.max_frames",
    "skrl": "trainer.timesteps",
    "generic": "total_timesteps",
}
FORMAT_NAMES = {
    "rl-baselines3-zoo": "rl-baselines3-zoo",
    "stable-baselines3": "Stable-Baselines3",
    "rllib": "RLlib",
    "sample-factory": "Sample Factory",
    "rl_games": "rl_games",
    "skrl": "skrl",
    "generic": "this config",
}
ADAPTIVE_SCHEDULE_NAME = {
    "rl_games": "lr_schedule: adaptive",
    "sample-factory": "lr_schedule: kl_adaptive_epoch",
    "skrl": "learning_rate_scheduler: KLAdaptiveLR",
}


@dataclass(frozen=True)
class ConfigProblem:
    """A config check's result before the engine attaches slug and configured severity."""

    code: str
    message: str
    line: int
    column: int
    evidence: Mapping[str, Any] = field(default_factory=dict)
    fix: Mapping[str, Any] | None = None
    severity: Severity | None = None  # a grade below the rule's own, e.g. info for an absent target_kl


def judge(record: UnitRecord, rule_options: Mapping[str, Mapping[str, Any]]) -> list[ConfigProblem]:
    problems = []
    lr_problem = _lr_problem(record, rule_options.get("LRD003", {}))
    if lr_problem is not None:
        problems.append(lr_problem)
    problems += _kl_guard_problems(record, rule_options.get("LRD012", {}))
    return problems


# --- LRD002 / LRD003 ---------------------------------------------------------------


def effective_schedule(record: UnitRecord, near_peak: float) -> str | None:
    """The schedule kind, with an LR list that starts near its peak counted as no warmup."""
    schedule = record.schedule
    if schedule is None:
        return None
    if schedule.value == WARMUP and schedule.start_fraction is not None and schedule.start_fraction >= near_peak:
        return NO_WARMUP
    return schedule.value


def _lr_problem(record: UnitRecord, options: Mapping[str, Any]) -> ConfigProblem | None:
    if record.recurrent is not True or record.schedule is None:
        return None
    kind = effective_schedule(record, float(options.get("near_peak", DEFAULT_NEAR_PEAK)))
    if kind not in (CONSTANT, NO_WARMUP):
        return None
    schedule = record.schedule
    fix = recommended_fix(record)
    arch = describe_architecture(record)
    lr = record.lr.value if record.lr is not None else None
    if kind == CONSTANT:
        code = "LRD002"
        why = f"{arch} trains at a constant LR{' ' + format_lr(lr) if lr else ''}: {schedule.note or schedule.key}"
    else:
        code = "LRD003"
        why = f"{arch} gets an LR schedule without warmup: {schedule.note or schedule.key}"
    evidence = {
        "unit": record.unit,
        "format": record.format,
        "key": schedule.key,
        "declared": schedule.declared,
        "lr": lr,
        "lr_schedule": kind,
        "architecture": record.architecture.value if record.architecture else None,
        "architecture_name": record.architecture_name,
        "architecture_key": record.architecture.key if record.architecture else None,
    }
    return ConfigProblem(code, f"{why}. Fix: {fix['config_text']}", schedule.line, schedule.column, evidence, fix)


def describe_architecture(record: UnitRecord) -> str:
    """E.g. 'the recurrent GRU policy "graph_free" (model.recurrent.cell)'."""
    arch = record.architecture
    kind = arch.value.upper() if arch.value in ("gru", "lstm", "rnn") else arch.value
    name = record.architecture_name
    named = f' "{name}"' if name and name.lower() != arch.value else ""
    where = f" ({arch.key}{'' if arch.declared else ', by default'})"
    return f"the recurrent {kind} policy{named}{where}"


# --- the fix -----------------------------------------------------------------------


def recommended_fix(record: UnitRecord) -> dict[str, Any]:
    """The recommended schedule for this unit, as plain data and in the format's syntax.

    Keys as ``lrdoctor.rules.prescription.fix_for`` (summary, schedule, code) plus ``knots``
    ([step, lr] corners), ``config`` (the key and value to write, None where the
    format has no piecewise schedule) and ``config_text`` (what the message says).
    """
    if record.lr is not None:
        base_lr, lr_source = record.lr.value, f"{record.lr.key}{'' if record.lr.declared else ' (library default)'}"
    else:
        base_lr, lr_source = DEFAULT_BASE_LR, f"not in the config: {format_lr(DEFAULT_BASE_LR)} assumed"
    length_key = TOTAL_STEPS_KEY.get(record.format, "total_timesteps")
    if record.total_steps is not None:
        total, total_source = record.total_steps.value, record.total_steps.key
    else:
        total = DEFAULT_TOTAL_STEPS
        total_source = f"not in the config: {format_steps(total)} assumed (set {length_key})"
    schedule = Schedule(base_lr=base_lr, total_steps=total)
    knots = [[step, lr] for step, lr in schedule.knots]
    yaml = record.file.lower().endswith((".yaml", ".yml"))
    listed = "[" + ", ".join(f"[{step}, {config_number(lr, yaml)}]" for step, lr in knots) + "]"
    code = schedule.code()
    phases = schedule.phases
    summary = (
        f"start at {format_lr(phases[0].start_lr)}, reach {format_lr(phases[0].end_lr)} at "
        f"{format_steps(phases[0].end_step)}, ramp to {format_lr(phases[1].end_lr)} by "
        f"{format_steps(phases[1].end_step)}, then decay linearly to {format_lr(phases[-1].end_lr)} at "
        f"{format_steps(phases[-1].end_step)}"
    )
    config: dict[str, str] | None = None
    if record.format == "rllib":
        key = "lr" if record.dialect == "new-stack" else "lr_schedule"
        config = {"key": key, "value": listed}
        text = f"set {key}: {listed}"
    elif record.format == "rl-baselines3-zoo":
        text = f"{summary}; the zoo's learning_rate strings only decay linearly, so train with {code['sb3']}"
    elif record.format == "stable-baselines3":
        text = f"{summary}: {code['sb3']}"
    elif record.format == "generic":
        config = {"key": "lr_schedule", "value": listed}
        text = f"{summary}; as [step, lr] knots: {listed}"
    else:
        name = FORMAT_NAMES.get(record.format, record.format)
        text = f"{summary}; {name} has no warmup schedule in its config, so apply it with {code['torch']}"
    if record.total_steps is None:
        text += f" ({format_steps(total)} steps assumed: set {length_key})"
    return {
        "summary": f"{summary[0].upper()}{summary[1:]} (the recommended warmup schedule for base LR "
                   f"{format_lr(base_lr)} over {format_steps(total)} steps).",
        "schedule": {
            "base_lr": base_lr,
            "base_lr_source": lr_source,
            "total_steps": total,
            "total_steps_source": total_source,
            "phases": [phase.to_dict() for phase in phases],
        },
        "code": code,
        "knots": knots,
        "config": config,
        "config_text": text,
    }


def config_number(value: float, yaml: bool) -> str:
    """A number as a config file should hold it: ``1e-6`` in JSON/TOML, ``1.0e-6`` in YAML,
    because PyYAML (YAML 1.1, which RLlib and the zoo load with) reads ``1e-6`` as a string."""
    text = f"{value:.12g}"
    text = re.sub(r"e([+-])0*(\d)", r"e\1\2", text)
    if yaml and "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


# --- LRD012 ------------------------------------------------------------------------


def _kl_guard_problems(record: UnitRecord, options: Mapping[str, Any]) -> list[ConfigProblem]:
    max_kl = float(options.get("max_target_kl", 0.05))
    recommended = float(options.get("recommended_target_kl", 0.02))
    schedule = record.schedule
    adaptive = schedule is not None and schedule.value == ADAPTIVE
    threshold = record.kl_threshold
    problems = []
    base = {"unit": record.unit, "format": record.format}

    if threshold is not None and threshold.declared and not adaptive and schedule is not None:
        turn_on = ADAPTIVE_SCHEDULE_NAME.get(record.format, "an adaptive LR schedule")
        problems.append(_problem(
            threshold,
            f"{threshold.key} {_show(threshold.value)} is inert: {FORMAT_NAMES.get(record.format, record.format)} "
            "reads it only with an adaptive "
            f"LR schedule, and {schedule.note or schedule.key}. Fix: set {turn_on}, or remove {threshold.key}",
            {**base, "kl_threshold": as_float(threshold.value), "lr_schedule": schedule.value},
        ))
    elif adaptive and threshold is None and record.format == "rl_games":
        problems.append(_problem(
            schedule,
            "lr_schedule adaptive without kl_threshold: rl_games reads params.config.kl_threshold for it and "
            f"stops with a KeyError. Fix: set kl_threshold: {recommended:g}",
            {**base, "kl_threshold": None, "lr_schedule": ADAPTIVE},
        ))
    elif adaptive and threshold is not None and (as_float(threshold.value) or 0) > max_kl:
        value = as_float(threshold.value)
        problems.append(_problem(
            threshold,
            f"{threshold.key} {value:g} is a loose KL guard: the adaptive schedule lowers the LR only once the "
            f"KL passes {value:g}, above the {max_kl:g} limit. Fix: set {threshold.key}: {recommended:g}",
            {**base, "kl_threshold": value, "max_target_kl": max_kl},
        ))

    target = record.target_kl
    target_value = as_float(target.value) if target is not None else None
    if target_value is not None and target_value > max_kl:
        problems.append(_problem(
            target,
            f"{target.key} {target_value:g} is a loose KL guard: it stops an update only after the KL passes "
            f"{target_value:g}, above the {max_kl:g} limit. Fix: set {target.key}: {recommended:g}",
            {**base, "target_kl": target_value, "max_target_kl": max_kl},
        ))
    elif record.target_kl_applies and record.recurrent is True and target_value is None:
        where = target or record.schedule or record.architecture
        problems.append(_problem(
            where,
            f"no target_kl on {describe_architecture(record)}: nothing stops an update whose KL runs away. "
            f"Fix: set target_kl: {recommended:g}",
            {**base, "target_kl": None},
            Severity.info,
        ))
    return problems


def _problem(where: Setting, message: str, evidence: Mapping[str, Any], severity: Severity | None = None):
    evidence = {**evidence, "key": where.key, "declared": where.declared}
    return ConfigProblem("LRD012", message, where.line, where.column, evidence, None, severity)


def _show(value: Any) -> str:
    number = as_float(value)
    return f"{number:g}" if number is not None else repr(value)
