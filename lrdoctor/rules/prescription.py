"""The prescription attached to every LR finding: the recommended schedule for this
run, with the numbers of each phase and the line of code that applies it.

The base LR is the run's configured LR, else the peak of its logged LR; the
length is the run's configured total steps, else its last logged step. Each
comes with where it was read, so a reader can check the numbers.
"""

from __future__ import annotations

import math
from typing import Any

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
