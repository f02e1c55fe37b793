"""LRD003 no-warmup-recurrent: an LR schedule that starts at or near its peak, on a recurrent policy.

Why: a decaying schedule (linear decay, cosine, step) without warmup gives a
recurrent policy its largest updates first, while its heads are fresh and its
hidden state is untrained: the same early KL excess as a constant LR, only
shorter. The recommended schedule starts at 1% of the base LR and ramps up.

In logged runs: the logged LR changes but its first value is already at least
``near_peak`` times its peak, on a recurrent architecture. Constant LRs are
LRD002's; an LR that was not logged is never judged (LRD010). KL-adaptive
schedules count as schedules: they only react after the KL has gone over. When
the architecture is unknown, LRD014 architecture-unknown says so instead:
lrdoctor does not guess.

In config files (``lrdoctor check``), by the same judgement: a recurrent
architecture with a schedule that starts at its peak (rl-baselines3-zoo's
``lin_3e-4``, cosine, step, linear decay, and a KL-adaptive LR such as rl_games'
``lr_schedule: adaptive``, Sample Factory's ``kl_adaptive_epoch`` or skrl's
``KLAdaptiveLR``, which starts at the full LR), warmup switched off, an LR list
whose first knot is at least ``near_peak`` of its peak, or an explicit list of
warmed-up architectures that leaves out the active recurrent one (the originating
trainer warmed up only "attention" and "mamba"). The fix is given in the
framework's own keys where it has one, and says plainly where it has none.

Options:
- ``near_peak`` (0.5): a first LR at or above this fraction of the peak counts
  as starting at the peak.

Example::

    LRD003 warning LR schedule without warmup (linear-decay from 3e-04) on a
    recurrent LSTM policy (architecture from policy name MlpLstmPolicy)
"""

from __future__ import annotations

from typing import Iterator, Mapping

from lrdoctor.configs.record import ADAPTIVE, NO_WARMUP, WARMUP, UnitRecord, policy_gradient
from lrdoctor.model import Run, Severity
from lrdoctor.rules import prescription
from lrdoctor.rules.common import (
    Problem,
    config_lr_problem,
    starts_near_peak,
    unit_architecture,
)
from lrdoctor.words import describe_architecture, lr_text

CODE = "LRD003"
SLUG = "no-warmup-recurrent"
SEVERITY = Severity.warning
SCOPE = "both"
STATIC = True  # about the run's settings, known before its first update
REQUIRES = ("lr",)
OPTIONS = {"near_peak": 0.5}
LIMITS = {"near_peak": {"more_than": 0, "at_most": 1}}


def check(run: Run, options: Mapping) -> Iterator[Problem]:
    if not starts_near_peak(run, options["near_peak"]):
        return
    shape = run.lr_shape
    evidence = {
        "lr_shape": shape.kind,
        "initial_lr": shape.initial_lr,
        "peak_lr": shape.peak_lr,
        "initial_over_peak": round(shape.initial_lr / shape.peak_lr, 4),
        "near_peak": options["near_peak"],
        "architecture": run.architecture.kind,
        "architecture_name": run.architecture.name,
        "architecture_source": run.architecture.source,
    }
    described = f"LR schedule without warmup ({shape.kind}, starting at {lr_text(shape.initial_lr)}"
    described += f" of peak {lr_text(shape.peak_lr)})"
    if run.architecture.recurrent is True:
        yield Problem(
            message=f"{described} on a {describe_architecture(run)}",
            evidence=evidence,
            fix=prescription.fix_for(run),
        )



def effective_schedule(record: UnitRecord, near_peak: float) -> str | None:
    """The unit's schedule kind, with an LR list that starts near its peak counted as no warmup, and
    a KL-adaptive LR too: it starts at the full LR and lowers it only after the KL has gone over."""
    schedule = record.schedule
    if schedule is None:
        return None
    if schedule.value == WARMUP and schedule.start_fraction is not None and schedule.start_fraction >= near_peak:
        return NO_WARMUP
    if schedule.value == ADAPTIVE:
        return NO_WARMUP
    return schedule.value


def check_config(record: UnitRecord, options: Mapping) -> Iterator[Problem]:
    """A recurrent unit whose schedule starts at (or near) its peak, pointing at the key at fault."""
    if policy_gradient(record.algorithm) is False:  # DQN, R2D2, SAC: not the PPO collapse
        return
    if record.recurrent is not True or effective_schedule(record, options["near_peak"]) != NO_WARMUP:
        return
    why = f"{unit_architecture(record)} gets an LR schedule without warmup: "
    reason = record.schedule.note or record.schedule.key
    if record.schedule.value == ADAPTIVE:
        reason += ", which starts at the full LR and lowers it only after the KL has gone over"
    yield config_lr_problem(record, NO_WARMUP, why + reason)
