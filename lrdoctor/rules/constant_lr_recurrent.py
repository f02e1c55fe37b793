"""LRD002 constant-lr-recurrent: a recurrent policy trained at a constant learning rate.

Why: a recurrent policy (GRU, LSTM, attention, Mamba/SSM) with fresh heads, at
its full LR from step 0, takes updates far larger than its hidden state can
absorb: the KL between successive policies exceeds its target, entropy rises,
and the policy collapses. This is the run that started lrdoctor: a GRU
("graph_free") at a constant 3e-4 collapsed within about 4M steps, because its
trainer applied warmup only to architectures named "attention" and "mamba".

In logged runs: the logged LR is constant and the architecture is recurrent. The
severity follows the run's dynamics: an error when the run collapsed, its KL ran
over for a sustained stretch or a metric went NaN; a warning (the run is "at
risk") when it trained well anyway.
An LR that was not logged is never taken for constant (LRD010 says it is
missing). When the architecture is unknown, lrdoctor does not guess that it is
recurrent: LRD014 architecture-unknown says so, under its own code.

In config files (``lrdoctor check``): a recurrent architecture with a constant
LR (a plain number for ``learning_rate``, or a schedule named constant).

The finding names the architecture kind, its name and where that was read, and
the LR, and carries the fix: the recommended warmup schedule for this run's
base LR and length, with the line of code that applies it.

Options: none besides ``severity``.

Example::

    LRD002 error constant LR 3e-04 on a recurrent GRU policy "graph_free"
    (architecture from config.json: model.arch)
"""

from __future__ import annotations

from typing import Iterator, Mapping

from lrdoctor.configs.record import CONSTANT, UnitRecord, policy_gradient
from lrdoctor.model import Run, Severity
from lrdoctor.rules import prescription
from lrdoctor.rules.common import (
    Problem,
    config_lr_problem,
    constant_on_recurrent,
    unit_architecture,
)
from lrdoctor.words import describe_architecture, format_lr, lr_text

CODE = "LRD002"
SLUG = "constant-lr-recurrent"
SEVERITY = Severity.error
# On a run's logs the severity follows what the run did: a run that trained well at a constant
# LR is at risk (a warning), one that collapsed or went unstable keeps the error. The check
# gate on configs, where no dynamics are known yet, keeps it an error.
SEVERITY_ON_A_HEALTHY_RUN = Severity.warning
SCOPE = "both"
STATIC = True  # about the run's settings, known before its first update
REQUIRES = ("lr",)
OPTIONS: dict = {}


def check(run: Run, options: Mapping) -> Iterator[Problem]:
    if run.lr_shape.kind != "constant":
        return
    lr = run.lr_shape.peak_lr
    evidence = {
        "lr": lr,
        "lr_shape": "constant",
        "lr_tag": run.sources["lr"].tag if "lr" in run.sources else None,
        "architecture": run.architecture.kind,
        "architecture_name": run.architecture.name,
        "architecture_source": run.architecture.source,
    }
    if constant_on_recurrent(run):
        yield Problem(
            message=f"constant LR {lr_text(lr)} on a {describe_architecture(run)}",
            evidence=evidence,
            fix=prescription.fix_for(run),
        )



def check_config(record: UnitRecord, options: Mapping) -> Iterator[Problem]:
    """A recurrent unit whose LR never changes, pointing at the key at fault."""
    schedule = record.schedule
    if policy_gradient(record.algorithm) is False:  # DQN, R2D2, SAC: not the PPO collapse
        return
    if record.recurrent is not True or schedule is None or schedule.value != CONSTANT:
        return
    lr = record.lr.value if record.lr is not None else None
    why = f"{unit_architecture(record)} trains at a constant LR{' ' + format_lr(lr) if lr else ''}: "
    yield config_lr_problem(record, CONSTANT, why + (schedule.note or schedule.key))
