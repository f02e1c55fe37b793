"""The one Run builder: a run's logged values, normalised, shaped and described.

``build_run`` is how every caller makes a ``Run``: ``analyze`` (``ingest``, from the
files on disk), ``watch`` (from what it has read of the files so far) and the SB3
callback (from the values the trainer logged in memory). They differ only in how
they got the values (``Logged``); normalising, the LR shape and the metadata are
done here, once, so the three cannot drift apart.

The run cache keeps the first half, a ``NormalisedRun``, and ``described_run`` makes
the Run from it: the metadata is read afresh every time, as config files are not
in the cache's key.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Callable, Collection, Mapping, Sequence

from lrdoctor.configs.record import as_float
from lrdoctor.model import LRShape, Points, ReadNote, Run, Sourced
from lrdoctor.read.discover import FoundRun
from lrdoctor.read.lrshape import lr_shape
from lrdoctor.read.metadata import Metadata, read_metadata
from lrdoctor.read.normalise import Normalised, normalise
from lrdoctor.read.tags import TagRule, rule_for
from lrdoctor.words import display

# How a run's own record of its config is named in sources, by the reader that read it.
SOURCE_CONFIG_LABELS = {
    "wandb": "W&B config:",
    "tune": "result.json config:",
    "mlflow-sqlite": "MLflow params:",
    "mlflow-files": "MLflow params:",
}


@dataclass(frozen=True)
class Logged:
    """What a run logged, merged across its files: the scalars of the known tags, the
    name of every scalar tag, text summaries, hparams and the problems met reading them."""

    scalars: Mapping[str, Points]
    tags: Collection[str]
    texts: Mapping[str, str] = field(default_factory=dict)
    hparams: Mapping[str, object] = field(default_factory=dict)
    notes: tuple[ReadNote, ...] = ()
    # The tag table to map with when the source says which (a progress.csv is SB3's); None: the best match.
    library: str | None = None


@dataclass(frozen=True)
class NormalisedRun:
    """A run as far as its logs say: everything a Run holds but its metadata, and the
    texts and hparams its metadata is read from. What the run cache keeps."""

    normalised: Normalised
    lr_shape: LRShape
    texts: Mapping[str, str]
    hparams: Mapping[str, object]
    notes: tuple[ReadNote, ...]  # the read problems of its files (before normalising)


def build_run(
    found: FoundRun,
    logged: Logged,
    want: re.Pattern[str],
    overrides: Sequence[TagRule] = (),
    *,
    arch: str | None = None,
    metadata: Metadata | None = None,
    keep: Callable[[NormalisedRun], None] | None = None,
) -> Run:
    """normalise -> LR shape -> metadata -> Run. ``want`` matches the tags the tables map
    (the rest are unknown), ``overrides`` are ``--tag``'s rules and ``arch`` is ``--arch``.
    ``metadata`` is given when it is known rather than read beside the run (the SB3
    callback has the model itself). ``keep`` receives the normalised run before its
    metadata is read: ingest stores it in the run cache."""
    normalised = normalised_run(logged, want, overrides, where=display(str(found.path)))
    if keep is not None:
        keep(normalised)
    return described_run(found, normalised, arch=arch, metadata=metadata)


def normalised_run(
    logged: Logged, want: re.Pattern[str], overrides: Sequence[TagRule] = (), *, where: str = ""
) -> NormalisedRun:
    """The logged values as canonical metrics, with the shape of their LR."""
    normalised = normalise(
        logged.scalars, sorted(logged.tags), want, overrides, library=logged.library, where=where
    )
    shape = lr_shape(normalised.metrics.points("lr"))
    return NormalisedRun(normalised, shape, logged.texts, logged.hparams, logged.notes)


def described_run(
    found: FoundRun, run: NormalisedRun, *, arch: str | None = None, metadata: Metadata | None = None
) -> Run:
    """The Run, with its metadata read beside it (``arch`` overriding the architecture)
    unless ``metadata`` is given."""
    if metadata is None:
        label = SOURCE_CONFIG_LABELS.get(found.source.kind) if found.source else None
        lr_tag = run.normalised.sources["lr"].tag if "lr" in run.normalised.sources else None
        metadata = read_metadata(
            found.path, found.root, hparams=run.hparams, texts=run.texts, arch_override=arch,
            hparams_label=label, lr_shape=run.lr_shape, lr_tag=lr_tag,
        )
    normalised = _scale_divided_out(run.normalised, metadata.settings, display(str(found.path)))
    return Run(
        name=found.name,
        path=found.path,
        metrics=normalised.metrics,
        sources=normalised.sources,
        step_axis=normalised.step_axis,
        library=normalised.library,
        architecture=metadata.architecture,
        config=metadata.config,
        lr_shape=run.lr_shape,
        unknown_tags=normalised.unknown_tags,
        # discovery's notes are not cached with the metrics: the other record may come or go
        notes=found.notes + run.notes + normalised.notes + metadata.notes,
        settings=metadata.settings,
        looked_for=metadata.looked_for,
    )


def _scale_divided_out(normalised: Normalised, settings: Mapping[str, Sourced], where: str) -> Normalised:
    """A metric the library logs multiplied by a setting (skrl's and TorchRL's entropy loss,
    -coefficient x H), divided by it when the run's config declares it: the rules then read
    the entropy in nats, and the caveat that only its shape is judged gives way to where the
    coefficient came from. Without a positive, finite coefficient the metric stays as logged."""
    metrics, notes = normalised.metrics, list(normalised.notes)
    for metric, source in normalised.sources.items():
        rule = rule_for(source.library, metric, source.tag)
        declared = settings.get(rule.scaled_by) if rule is not None and rule.scaled_by else None
        scale = as_float(declared.value) if declared is not None else None
        if scale is None or not (math.isfinite(scale) and scale > 0):
            continue
        points = metrics.points(metric)  # only now: a cached run's points are loaded when used
        if points is None:
            continue
        steps, values = points
        metrics = metrics.replaced(metric, (steps, values / scale))
        notes = [note for note in notes if note.message != rule.caveat]
        notes.append(ReadNote(where, f"{metric}: {display(source.tag)} divided by "
                              f"{rule.scaled_by} {scale:g} ({display(declared.source)}), the scale it is logged at", info=True))
    if metrics is normalised.metrics:
        return normalised
    return replace(normalised, metrics=metrics, notes=tuple(notes))
