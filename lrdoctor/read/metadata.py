"""What a run declared about itself: its architecture and its LR configuration, each with a source.

Sources, nearest first: config files in the run directory and the directories above
it (up to the path the user gave), the hparams plugin, CleanRL's "hyperparameters"
text table; for the architecture only, then names (policy names, directory names,
e.g. ``RecurrentPPO_1`` or CleanRL's ``env__ppo_atari_lstm__seed__time``) and
``--arch``, which overrides everything. A value found nowhere stays unknown: a
guess from a name says so in its source, and gives the architecture no name.

Every source names where it was read relative to the path the user gave, as run
names are: ``exp1/config.yaml:12 policy_kwargs.rnn_type``, ``exp1 hparams plugin:
policy``; nothing more when the run is that path itself (``config.yaml:12 ...``).

Config files are parsed safely (no tags constructed, no code run; rl-zoo's
``policy_kwargs`` strings read with ``ast``), bounded in size and in the number of
values walked, and a malformed file is a note, not a crash.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from lrdoctor.arch import RECURRENT_KINDS, is_recurrent, kind_of
from lrdoctor.configs.record import as_float
from lrdoctor.model import Architecture, ReadNote, RunConfig, Sourced
from lrdoctor.words import display

# Names of config files read beside and above a run, in order of preference within a directory.
CONFIG_NAMES = (
    "config.yaml",
    "config.yml",  # rl-zoo hyperparameters (an OrderedDict dumped as a list of pairs)
    "args.yml",  # rl-zoo command line
    "params.json",  # Ray Tune trial
    "config.json",  # Sample Factory, npp-rl
    "training_config.json",  # npp-rl
    "config.toml",
    "hparams.yaml",
)
MAX_CONFIG_BYTES = 2_000_000
_MAX_VALUES = 20_000  # bounds the walk over a config (YAML aliases can multiply a small file)
_MAX_DEPTH = 40
# Brackets inside strings count too, so this is far above any real config's nesting.
_MAX_BRACKET_DEPTH = 1_000
KINDS = frozenset(RECURRENT_KINDS | {"mlp", "cnn"})


@dataclass(frozen=True)
class Entry:
    """One leaf value of a config: its key path, value, and where it was read ("config.yaml:12")."""

    keys: tuple[str, ...]
    value: Any
    where: str

    @property
    def key(self) -> str:
        return self.keys[-1] if self.keys else ""

    @property
    def source(self) -> str:
        return f"{self.where} {'.'.join(self.keys)}"


@dataclass(frozen=True)
class ConfigSource:
    """The entries of one place a run's configuration was read from."""

    label: str
    entries: tuple[Entry, ...]
    zoo: bool = False  # an rl-zoo hyperparameter file: a bare number learning_rate is constant


@dataclass(frozen=True)
class Metadata:
    architecture: Architecture
    config: RunConfig
    notes: tuple[ReadNote, ...] = field(default_factory=tuple)


# ---------------------------------------------------------------- config files


def config_files(run_dir: Path, root: Path) -> list[Path]:
    """Config files in the run directory and each directory above it up to ``root``, nearest first."""
    found = []
    directory = run_dir
    while True:
        found.extend(p for p in (directory / name for name in CONFIG_NAMES) if p.is_file())
        if directory == root or directory.parent == directory or root not in directory.parents:
            break
        directory = directory.parent
    return found


def read_config(path: Path, label: str) -> tuple[ConfigSource | None, ReadNote | None]:
    """Parse one config file into its leaf entries; a file that cannot be parsed gives a
    note naming the file as the user can find it (``label`` names it in sources)."""
    where = display(str(path))
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)  # bounded even if the file grows meanwhile
            size = max(len(data), os.fstat(handle.fileno()).st_size)
        if size > MAX_CONFIG_BYTES:
            return None, ReadNote(where, f"config not read: {size:,} bytes is over the {MAX_CONFIG_BYTES:,}-byte limit")
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, ReadNote(where, "config not read: not UTF-8 text")
    except OSError as error:
        return None, ReadNote(where, f"config not read: {error.strerror or error}")
    if _bracket_depth(text) > _MAX_BRACKET_DEPTH:
        return None, ReadNote(where, "config not read: nested too deeply")
    try:
        if path.suffix == ".toml":
            return _toml_source(text, label), None
        return _yaml_source(text, label), None
    except (RecursionError, MemoryError):
        return None, ReadNote(where, "config not read: nested too deeply")
    except Exception as error:  # a parser's own error types vary: any of them means "malformed"
        return None, ReadNote(where, f"malformed config{_position(error)}: {_first_line(error)}")


def _position(error: Exception) -> str:
    """" at line L, column C" when the parser said where (ruamel's marks, json, tomllib)."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is not None:
        return f" at line {mark.line + 1}, column {mark.column + 1}"
    if isinstance(error, json.JSONDecodeError):
        return f" at line {error.lineno}, column {error.colno}"
    return ""


def _first_line(error: Exception) -> str:
    problem = getattr(error, "problem", None) or getattr(error, "context", None) or str(error)
    lines = [line for line in str(problem).splitlines() if line.strip()]
    return " ".join(lines[0].split()) if lines else type(error).__name__


def _bracket_depth(text: str) -> int:
    """The deepest nesting of brackets and braces, counted without parsing: the
    pure-Python YAML parser takes seconds to fail on tens of thousands of levels."""
    raw = np.frombuffer(text.encode("utf-8", "replace"), dtype=np.uint8)
    steps = np.zeros(len(raw), dtype=np.int32)
    steps[(raw == ord("[")) | (raw == ord("{"))] = 1
    steps[(raw == ord("]")) | (raw == ord("}"))] = -1
    return int(np.cumsum(steps).max()) if len(raw) else 0


def _yaml_source(text: str, label: str) -> ConfigSource:
    """YAML and JSON (JSON is YAML 1.2) through ruamel's round-trip loader, which keeps line
    numbers and leaves unknown tags (rl-zoo's ``!!python/object/apply``) unconstructed."""
    from ruamel.yaml import YAML

    try:
        document = YAML(typ="rt", pure=True).load(text)
    except Exception:
        if not label.endswith(".json"):
            raise
        document = json.loads(text)
    zoo = False
    pairs = _unwrap_pairs(document)
    if pairs is not None:
        document, zoo = pairs, True
    entries: list[Entry] = []
    _walk(document, (), label, None, entries, 0)
    return ConfigSource(label, tuple(entries), zoo=zoo)


def _unwrap_pairs(document: Any) -> Any:
    """rl-zoo dumps its OrderedDict as a sequence holding a list of [key, value] pairs."""
    if isinstance(document, list) and len(document) == 1 and _is_pairs(document[0]):
        return document[0]
    if _is_pairs(document):
        return document
    return None


def _is_pairs(node: Any) -> bool:
    return (
        isinstance(node, list)
        and bool(node)
        and all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in node)
    )


def _line(node: Any, key: Any, is_item: bool = False) -> int | None:
    lc = getattr(node, "lc", None)
    try:
        position = lc.item(key) if is_item else lc.key(key)
    except (AttributeError, KeyError, IndexError, TypeError):
        return None
    return position[0] + 1 if position else None


def _walk(node: Any, keys: tuple[str, ...], label: str, line: int | None, out: list[Entry], depth: int) -> None:
    if len(out) >= _MAX_VALUES or depth > _MAX_DEPTH:
        return
    if isinstance(node, Mapping):
        for key, value in node.items():
            _walk(value, (*keys, str(key)), label, _line(node, key) or line, out, depth + 1)
    elif _is_pairs(node):
        for index, (key, value) in enumerate(node):
            _walk(value, (*keys, key), label, _line(node, index, is_item=True) or line, out, depth + 1)
    elif isinstance(node, list):
        if all(not isinstance(item, (Mapping, list)) for item in node) or all(isinstance(i, list) for i in node):
            out.append(Entry(keys, _plain(node, depth), _where(label, line)))
        else:
            for index, item in enumerate(node):
                _walk(item, (*keys, str(index)), label, _line(node, index, is_item=True) or line, out, depth + 1)
    elif isinstance(node, str) and keys and keys[-1] == "policy_kwargs" and node.lstrip().startswith("dict("):
        for key, value in _zoo_kwargs(node).items():
            out.append(Entry((*keys, key), value, _where(label, line)))
    else:
        out.append(Entry(keys, _plain(node, depth), _where(label, line)))


def _plain(node: Any, depth: int, budget: list[int] | None = None) -> Any:
    """ruamel's scalar and sequence types as plain Python values, at most ``_MAX_VALUES`` of them
    (shared aliases can make a small list expand exponentially)."""
    budget = [_MAX_VALUES] if budget is None else budget
    budget[0] -= 1
    if depth > _MAX_DEPTH or budget[0] < 0:
        return None
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, list):
        return [_plain(item, depth + 1, budget) for item in node[:1000] if budget[0] >= 0]
    return str(node)


def _where(label: str, line: int | None) -> str:
    return f"{label}:{line}" if line else label


def _zoo_kwargs(text: str) -> dict[str, Any]:
    """The literal keyword arguments of an rl-zoo ``policy_kwargs: "dict(...)"`` string,
    read with ``ast`` (never evaluated); non-literal values (``nn.ReLU``) are kept as their source text."""
    if len(text) > 10_000:
        return {}
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return {}
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "dict"):
        return {}
    kwargs: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            continue
        try:
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, SyntaxError, TypeError):
            kwargs[keyword.arg] = ast.get_source_segment(text.strip(), keyword.value)
    return kwargs


def _toml_source(text: str, label: str) -> ConfigSource:
    """TOML has no line numbers in tomllib: each key's line is the first line assigning it."""
    entries: list[Entry] = []
    _walk(tomllib.loads(text), (), label, None, entries, 0)
    # One pass over the lines (not one per entry: a large file would take minutes).
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _TOML_ASSIGNMENT.match(line)
        if match:
            first_line.setdefault(match["key"], number)
    located = [Entry(e.keys, e.value, _where(label, first_line.get(e.key))) for e in entries]
    return ConfigSource(label, tuple(located))


_TOML_ASSIGNMENT = re.compile(r"^\s*[\"']?(?P<key>[^=]*?)[\"']?\s*=")


# ---------------------------------------------------------------- logged metadata


def hparams_source(hparams: Mapping[str, object], run: str = "") -> ConfigSource:
    """The hparams plugin's values (SB3's HParam, Tune's TBX logger, add_hparams); keys may be
    flattened with '/'. ``run`` is the run's directory as sources name it ("" for the argument)."""
    where = _in_run(run, "hparams plugin:")
    entries = tuple(Entry(tuple(str(k).split("/")), _coerce(v), where) for k, v in hparams.items())
    return ConfigSource("hparams plugin", entries)


_TABLE_ROW = re.compile(r"^\s*\|(?P<key>[^|]*)\|(?P<value>.*)\|\s*$")


def cleanrl_source(text: str, run: str = "") -> ConfigSource:
    """CleanRL's ``add_text("hyperparameters", "|param|value|\\n|-|-|\\n|key|value|...")``."""
    where = _in_run(run, "CleanRL hyperparameters text:")
    entries = []
    for row in text.splitlines():
        match = _TABLE_ROW.match(row)
        if not match:
            continue
        key, value = match["key"].strip(), match["value"].strip()
        if not key or key == "param" or set(key) <= {"-", ":"}:
            continue
        entries.append(Entry((key,), _coerce(value), where))
    return ConfigSource("CleanRL hyperparameters text", tuple(entries))


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

# Keys whose value names the recurrent cell (Sample Factory rnn_type, rl_games network.rnn.name, ...).
CELL_KEYS = frozenset({"rnn_type", "cell_type", "rnn_cell", "recurrent_type", "recurrent_cell", "core_type"})
# Boolean switches of a recurrent core (RLlib model.use_lstm / use_attention, Sample Factory use_rnn).
FLAG_KEYS = {
    "use_lstm": "lstm",
    "use_gru": "gru",
    "use_attention": "attention",
    "use_transformer": "attention",
    "use_mamba": "mamba",
    "use_rnn": "rnn",
    "use_recurrent": "rnn",
    "recurrent": "rnn",
}
# Keys whose value names an architecture, a policy or a feature extractor, in order of trust.
NAME_KEYS = (
    "architecture",
    "arch",
    "architecture_name",
    "model_type",
    "network_type",
    "features_extractor_class",
    "features_extractor",
    "extractor",
    "encoder",
    "encoder_type",
    "backbone",
    "custom_model",
    "policy",
    "policy_class",
    "policy_type",
    "exp_name",  # CleanRL: the script name (ppo_atari_lstm) decides the network
)
_OWN_NAME_KEYS = ("architecture", "arch", "architecture_name", "model_type", "network_type")


def architecture(
    sources: Sequence[ConfigSource], run_dir: Path, root: Path, override: str | None = None
) -> Architecture:
    """The run's architecture from ``--arch``, then the sources in order, then directory names."""
    name = _own_name(sources)
    if override:
        kind = override.lower() if override.lower() in KINDS else (kind_of(override) or "unknown")
        return Architecture(kind, is_recurrent(kind), override, "--arch")
    for source in sources:
        found = _from_entries(source.entries)
        if found is not None:
            kind, entry = found
            return Architecture(kind, is_recurrent(kind), name or str(entry.value), entry.source)
    for directory in _dirs_up_to(run_dir, root):
        guess = _kind_from_dir_name(directory.name)
        if guess:
            # a directory's name is no name of the architecture: only the run's own config gives one
            kind, why = guess
            return Architecture(kind, is_recurrent(kind), name, f"directory name '{display(directory.name)}' ({why})")
    return Architecture(name=name)


def _own_name(sources: Sequence[ConfigSource]) -> str | None:
    """The name the run gives its architecture ("graph_free"), even when it says nothing of the kind."""
    for source in sources:
        for key in _OWN_NAME_KEYS:
            for entry in source.entries:
                if entry.key == key and isinstance(entry.value, str) and len(entry.keys) <= 2:
                    return entry.value
    return None


def _from_entries(entries: Sequence[Entry]) -> tuple[str, Entry] | None:
    flags_on = [e for e in entries if e.key in FLAG_KEYS and e.value is True]
    flags_off = [e for e in entries if e.key in FLAG_KEYS and e.value is False]
    cells = [
        (kind_of(e.value), e)
        for e in entries
        if isinstance(e.value, str) and (e.key in CELL_KEYS or e.keys[-2:] == ("rnn", "name"))
    ]
    cells = [(k, e) for k, e in cells if k in RECURRENT_KINDS]
    if flags_on:
        flag = flags_on[0]
        specific = FLAG_KEYS[flag.key]
        if specific == "rnn" and cells:  # use_rnn: true + rnn_type: gru -> a GRU
            return cells[0]
        return specific, flag
    # A switched-off recurrent core: its cell type (Sample Factory always writes rnn_type) is unused.
    if not flags_off and cells:
        return cells[0]
    for key in NAME_KEYS:
        for entry in entries:
            if entry.key == key and isinstance(entry.value, str):
                kind = kind_of(entry.value)
                if kind:
                    return kind, entry
    if flags_off:
        return "mlp", flags_off[0]
    return None


def _dirs_up_to(run_dir: Path, root: Path) -> Iterable[Path]:
    directory = run_dir
    while True:
        yield directory
        if directory == root or directory.parent == directory or root not in directory.parents:
            return
        directory = directory.parent


def _kind_from_dir_name(name: str) -> tuple[str, str] | None:
    """A kind guessed from a directory name, and why. SB3 names runs ``RecurrentPPO_1`` (sb3-contrib's
    RecurrentPPO has only LSTM policies); CleanRL ``{env}__{exp_name}__{seed}__{time}``, where only
    the exp_name speaks of the network."""
    if name.startswith("RecurrentPPO"):
        return "lstm", "guess: sb3-contrib RecurrentPPO is LSTM-only"
    parts = name.split("__")
    word = parts[1] if len(parts) >= 3 else name
    kind = kind_of(word)
    return (kind, f"guess from '{display(word)}'") if kind else None


# ---------------------------------------------------------------- LR configuration

LR_KEYS = ("learning_rate", "lr")
SCHEDULE_KEYS = ("lr_schedule", "learning_rate_schedule", "lr_scheduler", "learning_rate_scheduler", "schedule")
WARMUP_KEYS = (
    "warmup",
    "use_warmup",
    "lr_warmup",
    "warmup_steps",
    "lr_warmup_steps",
    "num_warmup_steps",
    "warmup_updates",
    "warmup_fraction",
    "warmup_ratio",
)
TOTAL_KEYS = (
    "total_timesteps",
    "n_timesteps",
    "total_steps",
    "train_for_env_steps",
    "max_frames",
    "num_timesteps",
    "total_env_steps",
    "timesteps",
)
TARGET_KL_KEYS = ("target_kl", "kl_target", "desired_kl", "kl_threshold", "lr_schedule_kl_threshold")
_ZOO_LIN = re.compile(r"^lin_([-+0-9.eE]+)$")


def schedule_kind(value: object) -> str | None:
    """A declared schedule's name in lrdoctor's words (constant, linear, adaptive, cosine, warmup, piecewise)."""
    if isinstance(value, list):
        return "piecewise" if value else None
    if not isinstance(value, str):
        return None
    text = value.lower()
    for words, kind in (
        (("warmup",), "warmup"),
        (("adaptive", "kl"), "adaptive"),
        (("cos",), "cosine"),
        (("lin",), "linear"),
        (("constant", "identity", "fixed", "none"), "constant"),
        (("step", "exp"), "step"),
    ):
        if any(word in text for word in words):
            return kind
    return text


def run_config(sources: Sequence[ConfigSource], arch: Architecture) -> RunConfig:
    """The declared LR, schedule, warmup, total steps and KL target; the nearest source wins."""
    lr = schedule = warmup = total = target = None
    for source in sources:
        for entry in source.entries:
            key, value = entry.key, entry.value
            if lr is None and key in LR_KEYS and len(entry.keys) <= 3:
                lr, schedule = _lr_value(entry, source.zoo, schedule)
            elif schedule is None and key in SCHEDULE_KEYS and schedule_kind(value):
                schedule = Sourced(schedule_kind(value), entry.source)
                if warmup is None and isinstance(value, list):
                    warmup = _piecewise_warmup(entry)
            elif schedule is None and key == "anneal_lr" and isinstance(value, bool):  # CleanRL
                schedule = Sourced("linear" if value else "constant", entry.source)
            elif warmup is None and key in WARMUP_KEYS and isinstance(value, (bool, int, float)):
                warmup = Sourced(bool(value), entry.source)
            elif warmup is None and key == "warmup_architectures" and isinstance(value, list) and arch.name:
                included = arch.name in value
                verb = "in" if included else "not in"
                warmup = Sourced(included, f"{arch.name} {verb} warmup_architectures ({entry.source})")
            elif total is None and key in TOTAL_KEYS and _positive(value) is not None:
                total = Sourced(int(_positive(value)), entry.source)
            elif target is None and key in TARGET_KL_KEYS and _positive(value) is not None:  # 0 / None: no target
                target = Sourced(_positive(value), entry.source)
    if warmup is None and schedule is not None and schedule.value == "warmup":
        warmup = Sourced(True, schedule.source)
    files = tuple(s.label for s in sources if s.label not in ("hparams plugin", "CleanRL hyperparameters text"))
    return RunConfig(lr=lr, lr_schedule=schedule, warmup=warmup, total_steps=total, target_kl=target, files=files)


def _positive(value: Any) -> float | None:
    """A count or threshold a config can mean: finite and above zero (`.inf`, NaN and 0 are not)."""
    number = as_float(value)
    return number if number is not None and math.isfinite(number) and number > 0 else None


def _lr_value(entry: Entry, zoo: bool, schedule: Sourced | None) -> tuple[Sourced | None, Sourced | None]:
    value = entry.value
    if isinstance(value, str):
        match = _ZOO_LIN.match(value.strip())
        if match:  # rl-zoo "lin_3e-4": linear decay from 3e-4 to 0
            return Sourced(float(match.group(1)), entry.source), schedule or Sourced("linear", entry.source)
    number = as_float(value)
    if number is None:
        return None, schedule
    if zoo and schedule is None:
        return Sourced(number, entry.source), Sourced("constant", f"{entry.source} (a number: SB3 keeps it constant)")
    return Sourced(number, entry.source), schedule


def _piecewise_warmup(entry: Entry) -> Sourced | None:
    """RLlib's ``lr_schedule: [[0, lr0], [t1, lr1], ...]`` warms up when it rises from its first point."""
    try:
        points = [float(v) for _, v in entry.value]
    except (TypeError, ValueError):
        return None
    return Sourced(bool(points) and max(points) > points[0], entry.source)


# ---------------------------------------------------------------- everything for one run


def read_metadata(
    run_dir: Path,
    root: Path,
    *,
    hparams: Mapping[str, object] | None = None,
    texts: Mapping[str, str] | None = None,
    arch_override: str | None = None,
) -> Metadata:
    """Architecture and declared configuration of one run, with the notes of unreadable configs."""
    sources: list[ConfigSource] = []
    notes: list[ReadNote] = []
    for path in config_files(run_dir, root):
        label = _label(path, root)
        source, note = read_config(path, label)
        if source is not None:
            sources.append(source)
        if note is not None:
            notes.append(note)
    run = _run_label(run_dir, root)
    if hparams:
        sources.append(hparams_source(hparams, run))
    # tensorboardX and torch store add_text("hyperparameters") under "hyperparameters/text_summary"
    for tag, text in (texts or {}).items():
        if tag.split("/")[0] == "hyperparameters" and text:
            sources.append(cleanrl_source(text, run))
            break
    arch = architecture(sources, run_dir, root, arch_override)
    return Metadata(arch, run_config(sources, arch), tuple(notes))


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
