"""The prescription attached to every LR finding: the recommended schedule for this
run (or config unit), with the numbers of each phase and the line of code (or the
config keys) that apply it.

The base LR is the run's configured LR, else the peak of its logged LR; the
length is the run's configured total steps, else its last logged step. Each
comes with where it was read, so a reader can check the numbers.
"""

from __future__ import annotations

import math
import re
from typing import Any

from lrdoctor.configs.record import UnitRecord
from lrdoctor.model import Run, Sourced
from lrdoctor.schedule import Schedule
from lrdoctor.words import format_lr, format_steps


def base_lr(run: Run) -> tuple[float, str] | None:
    """The LR the schedule peaks at, and where it was read."""
    configured = _positive(run.config.lr)
    if configured is not None:
        return configured, f"config ({run.config.lr.source})"
    peak = run.lr_shape.peak_lr
    if peak is not None and math.isfinite(peak) and peak > 0:
        return float(peak), "peak of the logged LR"
    return None


def total_steps(run: Run) -> tuple[int, str] | None:
    """The run's length, and where it was read."""
    configured = _positive(run.config.total_steps)
    if configured is not None and configured == int(configured):
        return int(configured), f"config ({run.config.total_steps.source})"
    last = run.last_step
    if last is not None and last > 0:
        return int(last), "last logged step"
    return None


def recommended_schedule(run: Run) -> Schedule | None:
    """The recommended schedule for this run's base LR and length; None if its LR is unknown."""
    lr, length = base_lr(run), total_steps(run)
    if lr is None or length is None:
        return None
    return Schedule(base_lr=lr[0], total_steps=length[0])


def fix_for(run: Run) -> dict[str, Any]:
    """The fix for an LR finding, as plain data for every reporter.

    Keys: ``summary`` (one sentence), ``schedule`` (base_lr, total_steps, where
    each was read, and the phases with their steps, LRs and expected KL band; None
    when the run's LR is unknown) and ``code`` (``sb3`` and ``torch`` one-liners;
    None likewise).
    """
    schedule = recommended_schedule(run)
    if schedule is None:
        return {
            "summary": (
                "Use a warmup schedule (slow start, ramp to the base LR by 25% of training, linear decay); "
                "this run's LR could not be read, so compute it with `lrdoctor plot-schedule --base-lr LR "
                "--total-steps N`."
            ),
            "schedule": None,
            "code": None,
        }
    phases = schedule.phases
    slow, ramp, decay = phases[0], phases[1], phases[-1]
    summary = (
        f"Start at {format_lr(slow.start_lr)}, reach {format_lr(slow.end_lr)} at {format_steps(slow.end_step)}, "
        f"ramp to {format_lr(ramp.end_lr)} by {format_steps(ramp.end_step)}, then decay linearly to "
        f"{format_lr(decay.end_lr)} at {format_steps(decay.end_step)} "
        f"(the recommended warmup schedule for base LR {format_lr(schedule.base_lr)} "
        f"over {format_steps(schedule.total_steps)} steps)."
    )
    return {
        "summary": summary,
        "schedule": {
            "base_lr": schedule.base_lr,
            "base_lr_source": base_lr(run)[1],
            "total_steps": schedule.total_steps,
            "total_steps_source": total_steps(run)[1],
            "phases": [phase.to_dict() for phase in phases],
        },
        # RecurrentPPO only when the policy is known to be recurrent: PPO is the class of everything else
        "code": schedule.code("RecurrentPPO" if run.architecture.recurrent else "PPO"),
    }


def _positive(value: Sourced | None) -> float | None:
    if value is None:
        return None
    number = value.value
    if isinstance(number, bool):
        return None
    try:
        number = float(number)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


# --- config units (``lrdoctor check``) ------------------------------------------------

# When a config does not say how long it trains, the schedule is drawn for the
# length of the run that started lrdoctor, and the fix says so.
DEFAULT_TOTAL_STEPS = 20_000_000
DEFAULT_BASE_LR = 3e-4

# Where each format declares its length, for "set <key>" advice.
TOTAL_STEPS_KEY = {
    "rl-baselines3-zoo": "n_timesteps",
    "stable-baselines3": "total_timesteps",
    "rllib": "stop.timesteps_total",
    "sample-factory": "train_for_env_steps",
    "rl_games": "params.config.max_frames",
    "skrl": "trainer.timesteps",
    "rsl_rl": "max_iterations",
    "generic": "total_timesteps",
}
FORMAT_NAMES = {
    "rl-baselines3-zoo": "rl-baselines3-zoo",
    "stable-baselines3": "Stable-Baselines3",
    "rllib": "RLlib",
    "sample-factory": "Sample Factory",
    "rl_games": "rl_games",
    "skrl": "skrl",
    "rsl_rl": "rsl_rl",
    "generic": "this config",
}
def config_fix(record: UnitRecord) -> dict[str, Any]:
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
    config, text = framework_fix(record, schedule, listed, summary)
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
        # False where the framework has no config key that gives warmup: the fix is in code
        "in_config": config is not None,
    }


def framework_fix(record: UnitRecord, schedule: Schedule, listed: str, summary: str) -> tuple[dict | None, str]:
    """The fix in the unit's own framework's words: the key and value to write where its
    config can express a warmup, else a plain statement that it cannot, and the code that can.

    Never another schedule the framework has: rl_games' ``adaptive``, Sample Factory's
    ``kl_adaptive_*`` and ``linear_decay``, and the zoo's ``lin_`` strings all start at the
    full LR, so each would trade one finding for another."""
    args = schedule.arguments()
    code = schedule.code("RecurrentPPO" if record.recurrent else "PPO")
    beside = record.schedule.key.rpartition(".")[0] if record.schedule is not None else ""
    if record.format == "rllib":
        key = "lr" if record.dialect == "new-stack" else "lr_schedule"
        if beside.endswith("config") or beside == "":
            key = f"{beside}.{key}" if beside else key
        return {"key": key, "value": listed}, f"set {key}: {listed} (RLlib interpolates linearly between the knots)"
    if record.format == "generic" and record.warmup_switch is not None:
        switch = record.warmup_switch
        shown = ("[" + ", ".join(map(str, switch.value)) + "]" if isinstance(switch.value, list)
                 else str(switch.value).lower())
        return {"key": switch.key, "value": switch.value}, (
            f"set {switch.key}: {shown}, with the warmup the recommended schedule gives: {summary}; as [step, lr] "
            f"knots: {listed}"
        )
    if record.format == "generic":
        key = f"{beside}.lr_schedule" if beside else "lr_schedule"
        return {"key": key, "value": listed}, f"{summary}; as [step, lr] knots ({key}): {listed}"
    if record.format == "rl-baselines3-zoo":
        return None, (
            f"{summary}; no zoo learning_rate string gives warmup (lin_<lr> decays linearly from <lr>), so set "
            f"learning_rate to Schedule({args}).sb3() in a Python hyperparams file (--conf-file), or in code: "
            f"{code['sb3']}"
        )
    if record.format == "stable-baselines3":
        return None, f"{summary}: {code['sb3']}"
    if record.format == "rl_games":
        return None, (
            f"{summary}; no config key for warmup here: rl_games' lr_schedule is adaptive, linear or constant, and "
            "adaptive and linear both start at the full learning_rate. In code: an RLScheduler "
            "(rl_games.common.schedulers) whose update() returns "
            f"Schedule({args}).lr(frames), set as the agent's scheduler"
        )
    if record.format == "sample-factory":
        return None, (
            f"{summary}; no flag for warmup here: Sample Factory's --lr_schedule is constant, kl_adaptive_minibatch "
            "or kl_adaptive_epoch (2.x), and each starts at the full --learning_rate. In code: set the "
            f"learner's optimizer LR from Schedule({args}).lr(env_steps) each training iteration"
        )
    if record.format == "skrl":
        return None, (
            f"{summary}; no YAML name for warmup here: skrl's runner knows KLAdaptiveLR alone by name, and it starts at "
            "the full learning_rate. In code (skrl steps the scheduler once per update): set the agent's "
            "learning_rate_scheduler to torch.optim.lr_scheduler.LambdaLR and its learning_rate_scheduler_kwargs to "
            f"{{\"lr_lambda\": Schedule({args}).lambda_lr(steps_per_call=rollouts * num_envs)}}"
        )
    if record.format == "rsl_rl":
        return None, (
            f"{summary}; no config key for warmup here: rsl_rl's algorithm.schedule is adaptive or fixed, and both "
            "start at the full learning_rate. In code: set the runner's optimizer LR from "
            f"Schedule({args}).lr(env_steps) each iteration (env_steps = iteration * num_steps_per_env * num_envs)"
        )
    name = FORMAT_NAMES.get(record.format, record.format)
    return None, f"{summary}; {name} has no warmup schedule in its config, so apply it with {code['torch']}"


def config_number(value: float, yaml: bool) -> str:
    """A number as a config file should hold it: ``1e-6`` in JSON/TOML, ``1.0e-6`` in YAML,
    because PyYAML (YAML 1.1, which RLlib and the zoo load with) reads ``1e-6`` as a string."""
    text = f"{value:.12g}"
    text = re.sub(r"e([+-])0*(\d)", r"e\1\2", text)
    if yaml and "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text
