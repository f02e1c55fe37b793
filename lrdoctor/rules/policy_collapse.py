"""LRD006 policy-collapse: the headline: the KL ran away and the policy fell apart with it.

Why: each symptom alone can be benign (a KL excess the policy recovers from,
entropy rising during exploration); together they are the collapse that
started lrdoctor: a recurrent GRU at a constant 3e-4 went 67% over its KL
target, its entropy rose, its return never improved, and it was gone within
about 4M steps. This finding tells that story in one line, with its onset and,
when the run's LR settings explain it, its cause; the symptom findings of the
same run (LRD001, LRD004, ...) point to it with ``caused_by``.

When: a sustained KL exceedance (as LRD001 judges it) together with at least
one of: entropy rising (as LRD004 judges it), entropy collapsing to
``entropy_floor`` of its start, or the return (else success rate) dropping from its best by
``return_drop`` of its scale (the larger of its early size and its 10-90% range).

Onset: where the outcome turned: the step the return (else success rate) peaked
before it fell, the step a rising entropy's trend left its early band, or the step
a collapsing entropy reached its floor (entropy falls as a policy learns, so
leaving its start is no turn), whichever came first; the KL's sustained excess (from the first update over the threshold
in the first window of ``window`` updates whose median is over it) is told beside
it as the cause. With no turn to point at (the return never improved), the onset
is the start of that sustained excess. The evidence also gives the step the
entropy was halfway through its rise and the step the return peaked.

Cause: a declared schedule that was not applied (LRD011), a constant LR on a
recurrent architecture (LRD002) or a schedule without warmup on one (LRD003);
otherwise the message says no LR cause was found in what was logged.

Options: each symptom is judged as its own rule judges it: ``kl_threshold``,
``use_target_kl`` and ``window`` follow kl-exceeded's ``threshold``,
``use_target_kl`` and ``window``; ``entropy_rise``, ``early_fraction``,
``late_fraction`` and ``min_improvement`` follow entropy-rising's ``min_rise``,
``early_fraction``, ``late_fraction`` and ``min_improvement``; ``entropy_floor``
and ``entropy_early_fraction`` follow entropy-collapse's ``floor`` and
``early_fraction``. Set one here only to judge the collapse apart on purpose.
``return_drop`` (0.3) is its own: how far the return must fall from its best,
as a share of its scale.

Example::

    LRD006 error policy collapse from ~1.57M steps (episode return left its best):
    KL over 0.02 for a sustained stretch from 1.9M, peaking at 0.0334 at 3.56M
    (67% over); entropy rose 19%, episode return fell from 0.48 (at 1.57M) to
    0.086; cause: constant LR 3e-04 on a recurrent GRU (graph_free, from config.json)
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from lrdoctor.model import Run, Severity
from lrdoctor.rules import entropy_collapse, entropy_rising, kl_exceeded, prescription
from lrdoctor.rules.common import Follow, Problem, lr_cause, numbers, outcome
from lrdoctor.words import METRIC_NAMES, steps

CODE = "LRD006"
SLUG = "policy-collapse"
SEVERITY = Severity.error
SCOPE = "run"
REQUIRES = ("kl", ("entropy", "episode_return", "success_rate"))
# Each symptom is judged as its own rule judges it, unless set apart here on purpose.
OPTIONS = {
    "kl_threshold": Follow("LRD001", "threshold"),
    "use_target_kl": Follow("LRD001", "use_target_kl"),
    "window": Follow("LRD001", "window"),
    "entropy_rise": Follow("LRD004", "min_rise"),
    "early_fraction": Follow("LRD004", "early_fraction"),
    "late_fraction": Follow("LRD004", "late_fraction"),
    "min_improvement": Follow("LRD004", "min_improvement"),
    "entropy_floor": Follow("LRD005", "floor"),
    "entropy_early_fraction": Follow("LRD005", "early_fraction"),
    "return_drop": 0.3,
}
LIMITS = {"return_drop": {"more_than": 0, "at_most": 1}}


def check(run: Run, options: Mapping) -> Iterator[Problem]:
    excess = kl_exceeded.exceedance(
        run,
        {"threshold": options["kl_threshold"], "use_target_kl": options["use_target_kl"], "window": options["window"]},
    )
    if excess is None or not excess.sustained:
        return
    symptoms: list[str] = []
    turns: list[tuple[int, str]] = []  # (step, what turned there): the outcome leaving where it was
    evidence: dict[str, Any] = {
        "kl_threshold": excess.threshold,
        "kl_threshold_source": excess.threshold_source,
        "kl_sustained_from": excess.sustained_from,
        "kl_peak": excess.peak,
        "kl_peak_step": excess.peak_step,
        "kl_percent_over": excess.percent_over,
        "kl_share_over": round(excess.share_over, 4),
    }
    if "entropy" in run.metrics:
        rise = entropy_rising.rise(run, options["entropy_rise"], options["early_fraction"], options["late_fraction"])
        if rise is not None:
            symptoms.append(f"entropy rose {rise.change.relative():.0%}")
            evidence.update(entropy_rise=round(rise.change.relative(), 4), entropy_half_rise_step=rise.half_rise_step)
            left = numbers(run, "entropy").leaves_band(rise.change, above=True)
            if left is not None:
                turns.append((left, "entropy left its early band"))
        fall = entropy_collapse.collapse(run, options["entropy_floor"], 1.0, options["entropy_early_fraction"])
        if fall is not None:
            symptoms.append(f"entropy collapsed to {fall.value / fall.initial:.0%} of its start")
            evidence.update(entropy_collapse_step=fall.step)
            # Entropy falls as a policy learns: only reaching the floor is a turn, not leaving its start.
            turns.append((fall.step, f"entropy fell to {fall.value / fall.initial:.0%} of its start"))
    result = outcome(run, options["early_fraction"], options["late_fraction"])
    if result is not None and result.dropped(options["return_drop"]):
        symptoms.append(
            f"{METRIC_NAMES[result.metric]} fell from {result.best:.3g} "
            f"(at {steps(result.best_step)}) to {result.late:.3g}"
        )
        evidence.update(outcome_metric=result.metric, outcome_best=result.best, outcome_best_step=result.best_step,
                        outcome_late=result.late)
        turns.append((result.best_step, f"{METRIC_NAMES[result.metric]} left its best"))
    elif result is not None and not result.improved(options["min_improvement"]):
        evidence.update(outcome_metric=result.metric, outcome_early=result.early, outcome_late=result.late)
    if not symptoms:
        return
    if "outcome_early" in evidence:
        symptoms.append(f"no improvement in {METRIC_NAMES[result.metric]}")
    # The onset is where the outcome turned; the KL's excess is its cause, told beside it.
    # Without a turn to point at (the return never improved), the KL's own sustained excess is all there is.
    onset, turned = min(turns) if turns else (excess.sustained_from, "KL over its threshold for a sustained stretch")
    evidence.update(onset_step=onset, onset=turned)
    cause = lr_cause(run)
    evidence.update(symptoms=symptoms, cause=cause.code if cause else None, cause_text=cause.text if cause else None)
    cause_words = cause.text if cause else "no LR setting in this run's logs or config explains it"
    yield Problem(
        message=(
            f"policy collapse from ~{steps(onset)} steps ({turned}): KL over {excess.threshold:g} for a sustained "
            f"stretch from {steps(excess.sustained_from)}, peaking at {excess.peak:.3g} at {steps(excess.peak_step)} "
            f"({excess.percent_over}% over); {', '.join(symptoms)}; cause: {cause_words}"
        ),
        step=onset,
        evidence=evidence,
        fix=prescription.fix_for(run),
        caused_by=cause.code if cause else None,
    )
