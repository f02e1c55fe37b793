"""LRD011 schedule-not-applied: the config declares an LR schedule or warmup, the logged LR is constant.

Why: the schedule never reached the optimizer, so the run trained at a constant
LR its author believed was warmed up. The classic case is Stable-Baselines3:
assigning ``model.learning_rate = schedule`` after the model is built has no
effect, because SB3 turned ``learning_rate`` into ``lr_schedule`` in the
constructor and only ever reads that. Pass the schedule as
``PPO(..., learning_rate=schedule)`` instead.

What it checks: the run's config declares a schedule other than constant (or
asks for warmup), and the logged LR is constant. KL-adaptive schedules are left
out: an adaptive LR that never had to react stays constant in a healthy run.
An LR that was not logged is never taken for constant (LRD010).

The finding says what the config declared and where, the constant value
logged, and carries the recommended schedule as the fix.

Options: none besides ``severity``.

Example::

    LRD011 error config declares LR schedule "linear" (config.yaml:4 lr_schedule)
    but the logged LR is constant at 3e-04: the schedule was never applied
"""

from __future__ import annotations

from typing import Iterator, Mapping

from lrdoctor.model import Run, Severity
from lrdoctor.rules import prescription
from lrdoctor.rules.common import Problem, declared_schedule, schedule_not_applied
from lrdoctor.words import lr_text

CODE = "LRD011"
SLUG = "schedule-not-applied"
SEVERITY = Severity.error
SCOPE = "run"
STATIC = True  # about the run's settings, known before its first update
REQUIRES = ("lr",)
OPTIONS: dict = {}


def check(run: Run, options: Mapping) -> Iterator[Problem]:
    if not schedule_not_applied(run):
        return
    config = run.config
    yield Problem(
        message=(
            f"config declares {declared_schedule(run)} but the logged LR is constant at "
            f"{lr_text(run.lr_shape.peak_lr)}: the schedule was never applied (in SB3, pass it as "
            "learning_rate=...; reassigning model.learning_rate after construction has no effect)"
        ),
        evidence={
            "declared_schedule": config.lr_schedule.value if config.lr_schedule else None,
            "declared_schedule_source": config.lr_schedule.source if config.lr_schedule else None,
            "declared_warmup": config.warmup.value if config.warmup else None,
            "declared_warmup_source": config.warmup.source if config.warmup else None,
            "logged_lr": run.lr_shape.peak_lr,
            "lr_tag": run.sources["lr"].tag if "lr" in run.sources else None,
        },
        fix=prescription.fix_for(run),
    )
