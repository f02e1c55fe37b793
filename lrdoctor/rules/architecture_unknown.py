"""LRD014 architecture-unknown: the LR rules could not judge this run, because its architecture is unknown.

Why: a constant LR (LRD002) or a schedule without warmup (LRD003) collapses recurrent
policies; on a feed-forward one it is usually fine. When nothing the run wrote says
what trains the policy, lrdoctor does not guess: it says here that the LR it logged
would be a finding on a recurrent policy, under a code of its own, so that a gate
reading codes never sees constant-lr-recurrent on a run that may not be recurrent.
``--arch gru`` (or a config beside the run) decides it.

When: the architecture is unknown and the logged LR is constant, or changes but
starts at or near its peak (as LRD003 judges it, by its ``near_peak``).

Options: ``near_peak`` follows no-warmup-recurrent's.

Example::

    LRD014 info constant LR 3e-04, and the architecture is unknown (not found): on a
    recurrent policy this is the setting that collapses it (LRD002); pass --arch to decide
"""

from __future__ import annotations

from typing import Iterator, Mapping

from lrdoctor.model import Run, Severity
from lrdoctor.rules.common import Follow, Problem, starts_near_peak
from lrdoctor.words import lr_text

CODE = "LRD014"
SLUG = "architecture-unknown"
SEVERITY = Severity.info
SCOPE = "run"
STATIC = True  # about the run's settings, known before its first update
REQUIRES = ("lr",)
OPTIONS = {"near_peak": Follow("LRD003", "near_peak")}


def check(run: Run, options: Mapping) -> Iterator[Problem]:
    if run.architecture.known:
        return
    shape = run.lr_shape
    if shape.kind == "constant":
        would, what = "LRD002", f"constant LR {lr_text(shape.peak_lr)}"
        risk = "on a recurrent policy this is the setting that collapses it"
    elif starts_near_peak(run, options["near_peak"]):
        would = "LRD003"
        what = f"LR schedule without warmup ({shape.kind}, starting at {lr_text(shape.initial_lr)} of peak {lr_text(shape.peak_lr)})"
        risk = "a recurrent policy needs warmup"
    else:
        return
    yield Problem(
        message=f"{what}, and the architecture is unknown ({run.architecture.source}): {risk} ({would}); "
                "pass --arch to decide",
        evidence={"lr_shape": shape.kind, "peak_lr": shape.peak_lr, "initial_lr": shape.initial_lr,
                  "would_be": would, "architecture_source": run.architecture.source},
    )
