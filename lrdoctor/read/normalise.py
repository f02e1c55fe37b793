"""From raw tags to canonical metrics: merge restarts, pick the library, fix signs.

All array work is vectorised (numpy): a sweep of 100 runs x 10 tags x 10,000
steps must not loop in Python per point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from lrdoctor.model import Metrics, MetricSource, Points, ReadNote
from lrdoctor.read.tags import (
    LIBRARY_BY_NAME,
    RLLIB_LIFETIME_TAG,
    RLLIB_TIMESTEPS_TAG,
    TagRule,
    choose_library,
    map_tags,
)
from lrdoctor.words import display


@dataclass(frozen=True)
class Normalised:
    """A run's canonical metrics and where each came from."""

    metrics: Metrics
    sources: dict[str, MetricSource]
    library: str | None
    step_axis: str
    unknown_tags: tuple[str, ...]
    notes: tuple[ReadNote, ...]


def merge_parts(parts: Sequence[Points]) -> Points:
    """One tag's points from several files of a run, given in write order (restarts).

    A later file replaces an earlier one from its first step on: a run resumed from a
    checkpoint at step S re-logs S onwards, and the earlier file's points past S
    belong to the abandoned attempt (TensorBoard purges them the same way). Within
    the result, a repeated step keeps its last value. Sorted by step.
    """
    parts = [(np.asarray(s, dtype=np.int64), np.asarray(v, dtype=np.float64)) for s, v in parts if len(s)]
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    starts = np.array([s.min() for s, _ in parts])
    # the smallest first step of any later part: earlier points from there on are superseded
    cutoffs = np.minimum.accumulate(starts[::-1])[::-1][1:]
    kept = [s < cut for (s, _), cut in zip(parts[:-1], cutoffs)] + [np.ones(len(parts[-1][0]), dtype=bool)]
    steps = np.concatenate([s[keep] for (s, _), keep in zip(parts, kept)])
    values = np.concatenate([v[keep] for (_, v), keep in zip(parts, kept)])
    order = np.argsort(steps, kind="stable")
    steps, values = steps[order], values[order]
    last_of_step = np.append(steps[1:] != steps[:-1], True)
    return steps[last_of_step], values[last_of_step]


def merge_files(files: Sequence[Mapping[str, Points]]) -> dict[str, Points]:
    """Every tag merged across a run's files (given in write order)."""
    tags = sorted({tag for scalars in files for tag in scalars})
    return {tag: merge_parts([scalars[tag] for scalars in files if tag in scalars]) for tag in tags}


def merge_notes(files: Sequence[Mapping[str, Points]], names: Sequence[str]) -> list[ReadNote]:
    """What ``merge_files`` does to odd data, said instead of done in silence (``names``: the
    files as shown, in the same write order):

    - a later file that starts before an earlier one ends (a run resumed from a checkpoint)
      replaces it from that step on: which file won, from which step, and how many points
      of the earlier file were dropped;
    - steps that go backwards within one file are put in order;
    - a step written twice keeps the value written last.
    """
    notes: list[ReadNote] = []
    for index, (scalars, name) in enumerate(zip(files, names)):
        backwards: list[tuple[str, int, int]] = []
        repeated: dict[str, int] = {}
        overlap: tuple[int, int] | None = None  # (step, the later file that resumes there)
        dropped = 0
        for tag in sorted(scalars):
            steps = np.asarray(scalars[tag][0])
            if not len(steps):
                continue
            gaps = np.diff(steps)
            if (gaps < 0).any():
                at = int(np.argmax(gaps < 0))
                backwards.append((tag, int(steps[at]), int(steps[at + 1])))
                twice = int((np.diff(np.sort(steps)) == 0).sum())  # np.unique would import numpy.ma
            else:
                twice = int((gaps == 0).sum())
            if twice:
                repeated[tag] = twice
            later = [(int(np.min(other[tag][0])), position) for position, other in
                     enumerate(files[index + 1:], start=index + 1) if tag in other and len(other[tag][0])]
            if later:
                cut, by = min(later)
                lost = int((steps >= cut).sum())
                dropped += lost
                if lost and (overlap is None or cut < overlap[0]):
                    overlap = (cut, by)
        if overlap is not None:
            step, by = overlap
            notes.append(ReadNote(name, f"overlaps {names[by]}, which resumes at step {step:,}: the later file is "
                                        f"used from there ({dropped:,} points of this one dropped)"))
        if backwards:
            tag, before, after = backwards[0]
            notes.append(ReadNote(name, f"steps go backwards in {len(backwards)} of {len(scalars)} tags (first "
                                        f"{display(tag)}: {after:,} after {before:,}); points are used in step order"))
        if repeated:
            tag, count = next(iter(repeated)), sum(repeated.values())
            notes.append(ReadNote(name, f"{count:,} repeated step{'s' if count != 1 else ''} in {len(repeated)} of "
                                        f"{len(scalars)} tags (first {display(tag)}); the value written last is used"))
    return notes


def normalise(
    scalars: Mapping[str, Points],
    all_tags: Sequence[str],
    known: re.Pattern[str],
    overrides: Sequence[TagRule] = (),
    *,
    library: str | None = None,
    where: str = "",
) -> Normalised:
    """Map a run's merged scalars to canonical metrics.

    ``scalars`` holds the materialised (known) tags, ``all_tags`` every scalar tag the
    run logged; ``known`` matches the tags any table maps, so the rest is listed as
    unknown. ``overrides`` (from ``--tag``) win over the library's table. ``library``
    forces a table (e.g. "sb3" for a progress.csv); by default the best-matching one.
    """
    lib = LIBRARY_BY_NAME[library] if library else choose_library(scalars)
    notes: list[ReadNote] = []
    chosen = map_tags(scalars, overrides)
    for rule in overrides:
        if rule.metric not in chosen:
            notes.append(ReadNote(where, f"--tag {rule.metric}: no tag matching {rule.pattern!r} in this run"))
    if lib is not None:
        for metric, choice in map_tags(scalars, lib.rules).items():
            chosen.setdefault(metric, choice)

    points: dict[str, Points] = {}
    sources: dict[str, MetricSource] = {}
    for metric, choice in chosen.items():
        steps, values = scalars[choice.tag]
        # -H tags (SB3 train/entropy_loss, skrl, npp-rl) become +H so every rule reads one sign
        points[metric] = (steps, -values if choice.rule.negated else values)
        from_override = choice.rule in overrides
        sources[metric] = MetricSource(
            tag=choice.tag,
            negated=choice.rule.negated,
            estimator=choice.rule.estimator,
            library="--tag" if from_override else (lib.name if lib else None),
        )
        if choice.alternatives:
            notes.append(
                ReadNote(
                    where,
                    f"{metric}: several tags match ({', '.join(map(display, choice.alternatives))}); "
                    f"used {display(choice.tag)}",
                    info=True,
                )
            )

    notes.extend(ReadNote(where, choice.rule.caveat, info=True) for choice in chosen.values() if choice.rule.caveat)
    for pattern, why in lib.unmapped if lib is not None else ():
        if any(re.fullmatch(pattern, tag) for tag in all_tags):
            notes.append(ReadNote(where, why, info=True))
    unknown = tuple(sorted(t for t in all_tags if not known.fullmatch(t)))
    if not points:
        notes.append(
            ReadNote(where, f"no known tags: none of {len(all_tags)} scalar tags maps to a canonical metric (see --tag)")
        )
    step_axis = _step_axis(lib.name if lib else None, lib.step_axis if lib else "unknown", scalars)
    if step_axis == "training_iteration":
        points, step_axis = _in_env_steps(points, scalars)
    return Normalised(
        metrics=Metrics.from_points(points),
        sources=sources,
        library=lib.name if lib else None,
        step_axis=step_axis,
        unknown_tags=unknown,
        notes=tuple(notes),
    )


def _step_axis(library: str | None, default: str, scalars: Mapping[str, Points]) -> str:
    """Tune logs against timesteps_total when a result has it, else training_iteration:
    the logged timesteps_total equal to its own steps tells which."""
    if library != "rllib":
        return default
    for tag, (steps, values) in scalars.items():
        if RLLIB_TIMESTEPS_TAG.fullmatch(tag):
            return "timesteps_total" if np.array_equal(steps.astype(np.float64), values) else "training_iteration"
    return "training_iteration"


def _in_env_steps(points: dict[str, Points], scalars: Mapping[str, Points]) -> tuple[dict[str, Points], str]:
    """RLlib's metrics re-indexed from training iterations to the env steps sampled by each,
    when the run logged that counter: a prescription "over 20 steps" helps no one."""
    counter = next((scalars[tag] for tag in sorted(scalars) if RLLIB_LIFETIME_TAG.fullmatch(tag)), None)
    if counter is None or not len(counter[0]):
        return points, "training_iteration"
    iterations, env_steps = counter
    order = np.argsort(iterations, kind="stable")
    iterations, env_steps = iterations[order], env_steps[order]
    if not (np.all(np.isfinite(env_steps)) and np.all(np.diff(env_steps) > 0)):  # one env step per iteration
        return points, "training_iteration"
    moved: dict[str, Points] = {}
    for metric, (steps, values) in points.items():
        at = np.clip(np.searchsorted(iterations, steps), 0, len(iterations) - 1)
        known = iterations[at] == steps
        moved[metric] = (env_steps[at][known].astype(np.int64), values[known])
    return moved, "env steps (num_env_steps_sampled_lifetime)"
