"""The recommended learning-rate schedule for recurrent PPO policies.

Piecewise linear in steps, from the analysis of a GRU policy that collapsed at a
constant 3e-4 (see DESIGN.md). With base LR ``B`` and total steps ``T``:

1. ultra-slow start, 0 -> 0.025 T: 0.01 B -> 0.1 B (fresh heads settle on the features)
2. warmup ramp, 0.025 T -> 0.25 T: 0.1 B -> B
3. optional hold of B until ``hold_until`` (the source's "expected dynamics" held to 0.75 T)
4. linear decay to ``final_factor`` B at T (the source's worked numbers say 0.1 B,
   although its phase header says 0.01 B; 0.1 is the default, both are a parameter)

Beyond ``T`` the final LR is held. Every boundary and factor is a parameter; the
object is immutable and picklable, so its adapters can be handed to SB3 and torch.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from lrdoctor.errors import InputError

# Expected approx-KL per phase, from the same analysis; drawn as bands on plots.
KL_BANDS: dict[str, tuple[float, float]] = {
    "slow_start": (0.0, 0.01),
    "ramp": (0.01, 0.03),
    "hold": (0.02, 0.04),
    "decay": (0.0, 0.02),
}

_PHASE_TEXT: dict[str, tuple[str, str]] = {
    "slow_start": ("ultra-slow start", "fresh heads adapt to the pretrained features"),
    "ramp": ("warmup ramp", "raise the LR while the KL stays under its target"),
    "hold": ("full-LR hold", "learn at the full LR once the policy is stable"),
    "decay": ("linear decay", "anneal to settle the policy"),
}


@dataclass(frozen=True)
class Phase:
    """One linear piece of the schedule, in absolute steps and LR."""

    number: int
    key: str
    name: str
    purpose: str
    start_step: int
    end_step: int
    start_lr: float
    end_lr: float
    kl_band: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in fields(self)}  # asdict deep-copies: 6x slower


@dataclass(frozen=True)
class Schedule:
    """Warmup / ramp / (hold) / decay schedule for one run's base LR and length."""

    base_lr: float
    total_steps: int
    start_factor: float = 0.01
    slow_end: float = 0.025
    slow_factor: float = 0.1
    ramp_end: float = 0.25
    hold_until: float = 0.25
    final_factor: float = 0.1

    def __post_init__(self) -> None:
        problem = _invalid_reason(self)
        if problem:
            raise InputError(f"invalid schedule: {problem}")

    # --- the schedule itself -------------------------------------------------

    @property
    def knots(self) -> tuple[tuple[int, float], ...]:
        """(step, lr) corners; linear interpolation between them is the schedule."""
        steps = [0, self._at(self.slow_end), self._at(self.ramp_end)]
        lrs = [self.start_factor, self.slow_factor, 1.0]
        if self.hold_until > self.ramp_end:
            steps.append(self._at(self.hold_until))
            lrs.append(1.0)
        steps.append(self.total_steps)
        lrs.append(self.final_factor)
        return tuple((s, _clean(self.base_lr * f)) for s, f in zip(steps, lrs))

    @property
    def phases(self) -> tuple[Phase, ...]:
        keys = ["slow_start", "ramp"]
        if self.hold_until > self.ramp_end:
            keys.append("hold")
        keys.append("decay")
        knots = self.knots
        return tuple(
            Phase(
                number=i + 1,
                key=key,
                name=_PHASE_TEXT[key][0],
                purpose=_PHASE_TEXT[key][1],
                start_step=knots[i][0],
                end_step=knots[i + 1][0],
                start_lr=knots[i][1],
                end_lr=knots[i + 1][1],
                kl_band=KL_BANDS[key],
            )
            for i, key in enumerate(keys)
        )

    def lr(self, step):
        """LR at a step (int/float) or at every step of a numpy array."""
        steps = np.asarray(step, dtype=float)
        if np.any(steps < 0) or np.any(~np.isfinite(steps)):
            raise InputError("steps must be finite and non-negative")
        xs, ys = zip(*self.knots)
        values = np.interp(steps, xs, ys)
        return float(values) if values.ndim == 0 else values

    __call__ = lr

    def phase_of(self, step: float) -> Phase:
        """The phase a step falls in; a boundary belongs to the phase it starts."""
        if step < 0:
            raise InputError("steps must be non-negative")
        for phase in self.phases:
            if step < phase.end_step:
                return phase
        return self.phases[-1]

    # --- adapters ------------------------------------------------------------

    def sb3(self) -> "SB3Schedule":
        """For Stable-Baselines3 ``learning_rate=``: a function of progress_remaining."""
        return SB3Schedule(self)

    def lambda_lr(self, steps_per_call: int = 1) -> "LambdaMultiplier":
        """For ``torch.optim.lr_scheduler.LambdaLR`` with the optimizer's lr set to
        ``base_lr``: a multiplier of the scheduler's step count. ``steps_per_call``
        is how many env steps one ``scheduler.step()`` covers (n_steps * n_envs
        when stepping once per rollout)."""
        if steps_per_call <= 0:
            raise InputError("steps_per_call must be positive")
        return LambdaMultiplier(self, steps_per_call)

    # --- export ----------------------------------------------------------------

    def parameters(self) -> dict[str, Any]:
        return asdict(self)

    def points(self, count: int = 0) -> list[dict[str, Any]]:
        """The knots, plus ``count`` evenly spaced steps, as step/lr/phase rows.

        The knots are always included, so interpolating linearly between rows is exact.
        """
        steps = {s for s, _ in self.knots}
        if count > 0:
            steps.update(int(s) for s in np.linspace(0, self.total_steps, count))
        return [
            {"step": s, "lr": _clean(self.lr(s)), "phase": self.phase_of(s).number}
            for s in sorted(steps)
        ]

    def as_json(self, count: int = 0) -> str:
        return json.dumps(
            {
                "parameters": self.parameters(),
                "phases": [phase.to_dict() for phase in self.phases],
                "points": self.points(count),
            },
            indent=2,
        )

    def as_csv(self, count: int = 0) -> str:
        rows = ["step,lr,phase"]
        rows += [f"{p['step']},{p['lr']!r},{p['phase']}" for p in self.points(count)]
        return "\n".join(rows) + "\n"

    def code(self, algorithm: str = "RecurrentPPO") -> dict[str, str]:
        """One line each that applies this schedule, for a finding's fix.

        ``algorithm`` is the SB3 class the line constructs: sb3-contrib's
        RecurrentPPO for a recurrent policy, PPO otherwise.
        """
        args = self.arguments()
        return {
            "sb3": f"from lrdoctor import Schedule; model = {algorithm}(..., learning_rate=Schedule({args}).sb3())",
            "torch": (
                "from lrdoctor import Schedule; scheduler = torch.optim.lr_scheduler.LambdaLR("
                f"optimizer, Schedule({args}).lambda_lr(steps_per_call=n_steps * n_envs))"
            ),
        }

    def arguments(self) -> str:
        """The constructor's arguments that rebuild this schedule: ``base_lr=0.0003, total_steps=...``."""
        args = [f"base_lr={self.base_lr:g}", f"total_steps={self.total_steps:_}"]
        defaults = Schedule.__dataclass_fields__
        for name, value in self.parameters().items():
            if name not in ("base_lr", "total_steps") and value != defaults[name].default:
                args.append(f"{name}={value:g}")
        return ", ".join(args)

    def _at(self, fraction: float) -> int:
        return int(round(fraction * self.total_steps))


@dataclass(frozen=True)
class SB3Schedule:
    """SB3 calls this with progress_remaining, going from 1 (start) to 0 (end)."""

    schedule: Schedule

    def __call__(self, progress_remaining: float) -> float:
        fraction_done = min(max(1.0 - progress_remaining, 0.0), 1.0)
        return self.schedule.lr(fraction_done * self.schedule.total_steps)


@dataclass(frozen=True)
class LambdaMultiplier:
    """LambdaLR multiplies the optimizer's initial lr by this factor."""

    schedule: Schedule
    steps_per_call: int

    def __call__(self, call_count: int) -> float:
        lr = self.schedule.lr(call_count * self.steps_per_call)
        return lr / self.schedule.base_lr


def _clean(value: float) -> float:
    # 1e-4 * 0.01 is 1.0000000000000002e-06 in binary; show the number people expect.
    return float(f"{value:.12g}")


def _invalid_reason(s: Schedule) -> str | None:
    if not (isinstance(s.base_lr, (int, float)) and math.isfinite(s.base_lr) and s.base_lr > 0):
        return f"base LR must be a positive number, got {s.base_lr!r}"
    if not (isinstance(s.total_steps, int) and s.total_steps > 0):
        return f"total steps must be a positive integer, got {s.total_steps!r}"
    for name in ("start_factor", "slow_factor", "final_factor"):
        value = getattr(s, name)
        if not (math.isfinite(value) and 0 < value <= 1):
            return f"{name} must be in (0, 1], got {value!r}"
    if not 0 < s.slow_end < s.ramp_end <= s.hold_until < 1:
        return (
            "fractions must satisfy 0 < slow_end < ramp_end <= hold_until < 1, got "
            f"slow_end={s.slow_end}, ramp_end={s.ramp_end}, hold_until={s.hold_until}"
        )
    return None
