"""What a run declared about itself: its architecture and its LR configuration, each with a source.

Sources, nearest first: config files in the run directory and the directories above
it (up to the path the user gave), the hparams plugin (or, for a run read from W&B,
MLflow or Tune's result.json, the config that record keeps: W&B's config, MLflow's
params, the results' ``config``), CleanRL's "hyperparameters" text table; for the architecture only, then names (directory names, e.g.
``RecurrentPPO_1`` or CleanRL's ``env__ppo_atari_lstm__seed__time``) and ``--arch``,
which overrides everything. A value found nowhere stays unknown: a guess from a name
says so in its source, and gives the architecture no name.

Every source is read by the one config reader, ``lrdoctor.configs``, into the same
``UnitRecord`` that ``lrdoctor check`` judges, so the two never disagree about a file:
the architecture, LR, schedule and warmup a run's report shows are the record's. A
library's default (SB3's constant 3e-4) is not a declared value here: a run's
configuration holds only what its files said.

Every source names where it was read relative to the path the user gave, as run
names are: ``exp1/config.yaml:12 policy_kwargs.rnn_type``, ``exp1 hparams plugin:
policy``; nothing more when the run is that path itself (``config.yaml:12 ...``).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from lrdoctor.arch import KINDS, is_recurrent, kind_of, script_kind
from lrdoctor.configs.compose import read_document
from lrdoctor.configs.formats import read_unit
from lrdoctor.configs.loaders import Document, ParseError, Skipped, read_text
from lrdoctor.configs.record import Setting, UnitRecord, as_float
from lrdoctor.configs.split import split_units
from lrdoctor.model import Architecture, LRShape, ReadNote, RunConfig, Sourced
from lrdoctor.read import settings as declared_settings
from lrdoctor.words import display

# Names of config files read beside and above a run, in order of preference within a directory.
CONFIG_NAMES = (
    "config.yaml",
    "config_used.yaml",
    "config.yml",  # rl-zoo hyperparameters (an OrderedDict dumped as a list of pairs)
    "args.yml",  # rl-zoo command line
    "params/agent.yaml",  # Isaac Lab's train scripts, beside rsl_rl, rl_games and skrl runs
    "params/env.yaml",
    ".hydra/config.yaml",  # Hydra's composed config (IsaacGymEnvs, rl_games through Hydra)
    "params.json",  # Ray Tune trial
    "config.json",  # Sample Factory, npp-rl
    "cfg.json",  # Sample Factory
    "training_config.json",  # npp-rl
    "config.toml",
    "hparams.yaml",
)


@dataclass(frozen=True)
class Declared:
    """One place a run's configuration was read from: its unit, as ``check`` reads it, and
    how a value's place is named (``config.yaml:12`` in a file, ``hparams plugin:`` elsewhere)."""

    record: UnitRecord
    label: str
    has_lines: bool = True
    settings: Mapping[str, Sourced] = field(default_factory=dict)  # every leaf, in the flat key space
    looked_for: tuple[str, ...] = ()  # the files its defaults list was looked for as (configs.compose)

    def source(self, setting: Setting) -> str:
        where = f"{self.label}:{setting.line}" if self.has_lines else self.label
        return f"{where} {setting.key}"


@dataclass(frozen=True)
class Metadata:
    architecture: Architecture
    config: RunConfig
    notes: tuple[ReadNote, ...] = field(default_factory=tuple)
    settings: Mapping[str, Sourced] = field(default_factory=dict)  # read.settings: key -> value and source
    looked_for: tuple[str, ...] = ()  # every Declared's


# ---------------------------------------------------------------- the places a run declares itself


def config_files(run_dir: Path, root: Path) -> list[Path]:
    """Config files in the run directory and each directory above it up to ``root``, nearest first.
    The run directory is listed, one call for all the names; above it each name is looked up, as
    a sweep's root holds an entry per run: listing it for every run made a sweep quadratic."""
    found = []
    for directory in _dirs_up_to(run_dir, root):
        names = CONFIG_NAMES
        if directory == run_dir:
            try:
                present = set(os.listdir(directory))
            except OSError:
                continue
            names = tuple(name for name in CONFIG_NAMES if name.split("/")[0] in present)
        found.extend(directory / name for name in names if os.path.isfile(os.path.join(directory, name)))
    return found


def read_config(path: Path, label: str) -> tuple[Declared | None, ReadNote | None]:
    """One config file as its unit record; a file that cannot be read gives a note naming
    the file as the user can find it (``label`` names it in sources)."""
    where = display(str(path))
    try:
        return _declared(read_document(path, read_text(path)), label, has_lines=True), None
    except Skipped as skipped:
        return None, ReadNote(where, f"config not read: {skipped.reason}")
    except ParseError as error:  # the file, or a value in it over a reading budget (policy_kwargs)
        if error.nesting:
            return None, ReadNote(where, "config not read: nested too deeply")
        return None, ReadNote(where, f"malformed config at line {error.line}, column {error.column}: {error.message}")


def hparams_source(hparams: Mapping[str, object], run: str = "", what: str = "hparams plugin:") -> Declared | None:
    """The hparams plugin's values (SB3's HParam, Tune's TBX logger, add_hparams), or a run's
    config as its own record keeps it (``what`` names which: W&B's config, MLflow's params);
    keys may be flattened with '/'. ``run`` is the run's directory as sources name it ("" for
    the argument)."""
    nested: dict[str, Any] = {}
    for key, value in hparams.items():
        *parents, leaf = str(key).split("/")
        holder = nested
        for parent in parents:
            holder = holder.setdefault(parent, {})
            if not isinstance(holder, dict):  # "a" and "a/b" both given: the first one stands
                break
        else:
            holder.setdefault(leaf, _coerce(value))
    return _declared(_mapping_document(nested), _in_run(run, what), has_lines=False)


_TABLE_ROW = re.compile(r"^\s*\|(?P<key>[^|]*)\|(?P<value>.*)\|\s*$")


def cleanrl_source(text: str, run: str = "") -> Declared | None:
    """CleanRL's ``add_text("hyperparameters", "|param|value|\\n|-|-|\\n|key|value|...")``."""
    table: dict[str, Any] = {}
    for row in text.splitlines():
        match = _TABLE_ROW.match(row)
        if not match:
            continue
        key, value = match["key"].strip(), match["value"].strip()
        if key and key != "param" and not set(key) <= {"-", ":"}:
            table.setdefault(key, _coerce(value))
    return _declared(_mapping_document(table), _in_run(run, "CleanRL hyperparameters text:"), has_lines=False)


def _declared(document: Document, label: str, *, has_lines: bool) -> Declared | None:
    """The document's first training unit (a run's config trains one policy)."""
    units = split_units(document)
    if not units:
        return None
    unit = units[0]

    def where(path: tuple) -> str:
        dotted = ".".join(str(part) for part in path)
        return f"{label}:{document.where(unit.path + path)[0]} {dotted}" if has_lines else f"{label} {dotted}"

    found = declared_settings.settings_from_mapping(unit.data, where)
    looked_for = tuple(document.extras.get("looked_for", ()))
    return Declared(read_unit(document, unit, label), label, has_lines, found, looked_for)


def _mapping_document(mapping: Mapping[str, Any]) -> Document:
    """Logged key-values as a document without positions: sources name the key, not a line."""
    return Document((dict(mapping),), {}, (), has_comments=False, kind="logged")


def _in_run(run: str, what: str) -> str:
    return f"{run} {what}" if run else what


def _coerce(value: object) -> object:
    """Text values ("0.00025", "True", "None") as the numbers and booleans they spell."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    if text in ("None", "null", ""):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


# ---------------------------------------------------------------- architecture


def architecture(
    sources: Sequence[Declared], run_dir: Path, root: Path, override: str | None = None
) -> Architecture:
    """The run's architecture from ``--arch``, then the sources in order, then directory names."""
    name = next((s.record.architecture_name for s in sources if s.record.architecture_name), None)
    if override:
        kind = override.lower() if override.lower() in KINDS else (kind_of(override) or "unknown")
        return Architecture(kind, is_recurrent(kind), override, "--arch")
    for source in sources:
        found = source.record.architecture
        if found is not None:
            where = source.source(found)
            if not found.declared and found.note:
                where += f" ({found.note})"
            return Architecture(found.value, is_recurrent(found.value), source.record.architecture_name, where)
    for directory in _dirs_up_to(run_dir, root):
        guess = _kind_from_dir_name(directory.name)
        if guess:
            # a directory's name is no name of the architecture: only the run's own config gives one
            kind, why = guess
            return Architecture(kind, is_recurrent(kind), name, f"directory name '{display(directory.name)}' ({why})")
    return Architecture(name=name)


def _dirs_up_to(run_dir: Path, root: Path) -> Iterable[Path]:
    directory = run_dir
    while True:
        yield directory
        if directory == root or directory.parent == directory or root not in directory.parents:
            return
        directory = directory.parent


def _kind_from_dir_name(name: str) -> tuple[str, str] | None:
    """A kind guessed from a directory name, and why. SB3 names runs ``RecurrentPPO_1`` (sb3-contrib's
    RecurrentPPO has only LSTM policies); skrl ``<time>_<agent class>`` (``_PPO_RNN``); CleanRL
    ``{env}__{exp_name}__{seed}__{time}``, where only the exp_name, its script, speaks of the network."""
    if name.startswith("RecurrentPPO"):
        return "lstm", "guess: sb3-contrib RecurrentPPO is LSTM-only"
    if _SKRL_RUN.fullmatch(name) and name.endswith("_PPO"):
        return "mlp", "guess: skrl's PPO agent takes no recurrent model, PPO_RNN does"
    parts = name.split("__")
    if len(parts) >= 3:  # CleanRL: the script names the network
        kind = script_kind(parts[1])
        return (kind, f"guess from CleanRL's script '{display(parts[1])}'") if kind else None
    kind = kind_of(name)
    return (kind, f"guess from '{display(name)}'") if kind else None


# skrl names its run folders <%y-%m-%d_%H-%M-%S-%f>_<agent class>, e.g. 26-12-01_21-56-25-876495_PPO_RNN.
_SKRL_RUN = re.compile(r"\d{2}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}-\d{6}_\w+")


# ---------------------------------------------------------------- LR configuration


def run_config(sources: Sequence[Declared]) -> RunConfig:
    """The declared LR, schedule, warmup, total steps and KL limit; the nearest source wins.

    A KL set-point an adaptive schedule aims at (rl_games' ``kl_threshold``) is not the
    run's limit: only an early-stop ``target_kl`` is."""

    def nearest(field_name: str, accept=lambda value: True) -> Sourced | None:
        for source in sources:
            setting = getattr(source.record, field_name)
            if setting is not None and setting.declared and accept(setting.value):
                where = source.source(setting)
                if field_name == "warmup" and setting.note:  # "graph_free not in warmup_architectures (...)"
                    where = f"{setting.note} ({where})"
                return Sourced(setting.value, where)
        return None

    total = nearest("total_steps", lambda v: _positive(v) is not None)
    target = nearest("target_kl", lambda v: _positive(v) is not None)
    return RunConfig(
        lr=nearest("lr", lambda v: _positive(v) is not None),
        lr_schedule=nearest("schedule_name"),
        warmup=nearest("warmup", lambda v: isinstance(v, bool)),
        total_steps=Sourced(int(_positive(total.value)), total.source) if total else None,
        target_kl=Sourced(_positive(target.value), target.source) if target else None,
        files=tuple(s.label for s in sources if s.has_lines),
    )


def _positive(value: Any) -> float | None:
    """A count or threshold a config can mean: finite and above zero (`.inf`, NaN and 0 are not)."""
    number = as_float(value)
    return number if number is not None and math.isfinite(number) and number > 0 else None


# ---------------------------------------------------------------- everything for one run


def read_metadata(
    run_dir: Path,
    root: Path,
    *,
    hparams: Mapping[str, object] | None = None,
    texts: Mapping[str, str] | None = None,
    arch_override: str | None = None,
    hparams_label: str | None = None,
    lr_shape: LRShape | None = None,
    lr_tag: str | None = None,
) -> Metadata:
    """Architecture, declared configuration and settings of one run, with the notes of unreadable
    configs. ``hparams_label`` names where ``hparams`` came from when not the hparams plugin;
    ``lr_shape`` and ``lr_tag`` (the logged LR) fill the settings no file declares."""
    sources: list[Declared] = []
    notes: list[ReadNote] = []
    for path in config_files(run_dir, root):
        source, note = read_config(path, _label(path, root))
        if source is not None:
            sources.append(source)
        if note is not None:
            notes.append(note)
    run = _run_label(run_dir, root)
    logged = [hparams_source(hparams, run, hparams_label or "hparams plugin:")] if hparams else []
    # tensorboardX and torch store add_text("hyperparameters") under "hyperparameters/text_summary"
    for tag, text in (texts or {}).items():
        if tag.split("/")[0] == "hyperparameters" and text:
            logged.append(cleanrl_source(text, run))
            break
    sources += [source for source in logged if source is not None]
    arch, config = architecture(sources, run_dir, root, arch_override), run_config(sources)
    found = run_settings(sources, config, arch, declared_settings.run_names(run_dir, root), lr_shape, lr_tag)
    return Metadata(arch, config, tuple(notes), found, tuple(f for source in sources for f in source.looked_for))


def run_settings(
    sources: Sequence[Declared],
    config: RunConfig,
    arch: Architecture,
    names: Sequence[str],
    lr_shape: LRShape | None,
    lr_tag: str | None,
) -> dict[str, Sourced]:
    """The run's settings, nearest first: what the config reader made of the LR (a zoo
    ``lin_3e-4`` is the number 3e-4) and of the architecture (a kind: ``architecture: graph_free``
    is a GRU), every file's leaves, directory names, then the logs."""
    read = {"learning_rate": config.lr, "lr_schedule": config.lr_schedule, "warmup": config.warmup}
    if arch.known:
        read["architecture"] = Sourced(arch.kind, arch.source)
    return declared_settings.merged([
        {key: value for key, value in read.items() if value is not None},
        *(source.settings for source in sources),
        declared_settings.settings_from_names(names),
        declared_settings.settings_from_logged_lr(lr_shape or LRShape(), lr_tag),
    ])


def _run_label(run_dir: Path, root: Path) -> str:
    """The run's directory relative to the argument, "" when it is the argument (as config labels)."""
    relative = _label(run_dir, root)
    return "" if relative == "." else relative


def _label(path: Path, root: Path) -> str:
    """A config file named relative to the argument, e.g. "exp1/config.yaml"."""
    try:
        return display(path.relative_to(root).as_posix())
    except ValueError:
        return display(path.as_posix())
