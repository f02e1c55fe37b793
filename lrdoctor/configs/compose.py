"""Hydra composition, done statically: a config's ``defaults:`` list and its interpolations.

IsaacGymEnvs' ``AntLSTMPPO.yaml`` may hold little but ``defaults: [AntPPO, _self_]`` and
a few keys: judged alone it is a constant LR that is in neither file. Here the defaults
list is composed the way Hydra composes it, before any rule sees the unit:

- an entry ``name`` is ``name.yaml`` beside the file, merged at the file's own level; an
  entry ``group: option`` (also ``override``/``optional``, ``group@package``) is
  ``group/option.yaml`` beside the file or in a directory above it (Hydra's search path
  starts at the config root, which a lone file does not name), placed under ``group``;
- ``_self_`` is where the file's own keys go; without it they go last and win (Hydra 1.1);
- later entries override earlier ones key by key; lists are replaced, not merged.

Hydra itself cannot do this here: its compose API needs the application's config root
and search-path plugins, and runs its resolvers. This reader never executes anything
(no ``_target_``, no ``hydra.utils.instantiate``, no resolver), and reads parents only
below the directories it searches (no ``..``, no absolute paths), each through the same
bounded reader as any config.

Interpolations are then resolved with OmegaConf where they are plain references
(``${params.config.lr}``, relative ``${..lr}``). One that calls a resolver
(``${resolve_default:...}``, ``${oc.env:...}``: user code or the environment) or refers
to a key that is not in the composed config (``${....task.env.numEnvs}``, a task config
composed at run time) is left as written and reported where it matters, never guessed.

A value that came from a parent is placed at the defaults entry that brought it (the
unit's own key) and keeps its origin (``AntPPO.yaml:12``) for the message.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any, Mapping

from lrdoctor.configs.loaders import YAML_SUFFIXES, Document, ParseError, Skipped, load, read_text

MAX_PARENTS = 32  # configs read for one file, all levels together
MAX_LEVELS = 8  # a defaults list's parents' parents ...
SEARCH_UP = 3  # directories above the file searched for a group (cfg/train/x.yaml -> cfg/task/)

# A resolver call: ${name:...}. Its name is before the first colon, inside the braces.
_RESOLVER = re.compile(r"\$\{\s*([A-Za-z_][\w.\-]*)\s*:")
_INTERPOLATION = "${"


class Composed:
    """What composing one file did: what it could not do, and how many configs it read."""

    def __init__(self) -> None:
        self.positions: dict[tuple, tuple[int, int]] = {}
        self.origins: dict[tuple, tuple[str | None, int]] = {}
        self.problems: list[tuple[tuple, str]] = []  # (path in the document, reason)
        self.read = 0
        # Every file a defaults entry was looked for as, found or not: inputs, above the file too.
        self.looked_for: list[str] = []


def has_defaults(document: Document) -> bool:
    return any(isinstance(root, Mapping) and isinstance(root.get("defaults"), list) for root in document.roots)


def has_interpolations(document: Document) -> bool:
    return any(_INTERPOLATION in line for line in document.lines)


def read_document(path: Path, text: str) -> Document:
    """A config file parsed by its suffix, then composed: the one way analyze and check read one."""
    document = load(path, text)
    if has_defaults(document) or has_interpolations(document):
        return compose(document, path)
    return document


def compose(document: Document, path: Path) -> Document:
    """The document with its defaults list composed and its plain interpolations resolved.

    ``extras["not_composed"]`` lists ``(path, reason)`` for each defaults entry that could not
    be read and each interpolation left unresolved, for LRD016; ``extras["looked_for"]`` every
    file a defaults entry was looked for as (``_find``), for ``lrdoctor.replay``."""
    if document.kind != "yaml" or len(document.roots) != 1 or not isinstance(document.roots[0], Mapping):
        return document
    state = Composed()
    root: dict = copy.deepcopy(dict(document.roots[0]))
    positions = dict(document.positions)
    origins = dict(document.origins)
    if isinstance(root.get("defaults"), list):
        root, provenance = _compose_file(root, document, path, path.parent, state, 0, {os.path.realpath(path)})
        for keys, (where, origin) in provenance.items():
            positions[(0,) + keys] = where
            if origin is None:
                origins.pop((0,) + keys, None)
            else:
                origins[(0,) + keys] = origin
    state.positions, state.origins = positions, origins
    root = _resolve(root, state)
    extras = {**document.extras, "not_composed": tuple(state.problems), "looked_for": tuple(state.looked_for)}
    return Document((root,), positions, document.lines, document.has_comments, document.kind, extras, origins)


# Where each key of a composed file sits: (line, column) in the file being composed, and its
# origin, (file, line), when the value is written in another file (None: here).
Provenance = dict[tuple, tuple[tuple[int, int], "tuple[str | None, int] | None"]]


def _compose_file(data: Mapping, document: Document, path: Path, top: Path, state: Composed, level: int,
                  seen: set[str]) -> tuple[dict, Provenance]:
    """``data`` (a file's root) with its defaults merged in, in list order, and where each key is."""
    defaults = data.get("defaults")
    written = defaults if isinstance(defaults, list) else []
    self_data = {k: v for k, v in data.items() if k != "defaults"}
    entries = written if "_self_" in written else [*written, "_self_"]
    result: dict = {}
    provenance: Provenance = {}
    for index, entry in enumerate(entries):
        if entry == "_self_":
            result = merge(result, self_data)
            for keys in _paths(self_data):
                provenance[keys] = (document.where((0,) + keys), document.origins.get((0,) + keys))
            continue
        entry_at = ("defaults", index)
        where = document.where((0,) + entry_at)
        for group, option in _entry_targets(entry):
            if option is None:
                continue  # `group: null`: nothing to compose
            placed = _load_parent(group, option, path, state, level, seen)
            if isinstance(placed, str):
                optional = isinstance(entry, Mapping) and any(str(k).startswith("optional ") for k in entry)
                if not optional:
                    state.problems.append(((0,) + entry_at, placed))
                continue
            parent_data, parent_document, parent_path = placed
            composed, inherited = _compose_file(parent_data, parent_document, parent_path, top, state, level + 1,
                                                seen | {os.path.realpath(parent_path)})
            label = os.path.relpath(parent_path, top)
            target = tuple(group.split("/")) if group and group != "_here_" else ()
            nested: Any = composed
            for key in reversed(target):
                nested = {key: nested}
            result = merge(result, nested)
            for depth in range(1, len(target) + 1):
                provenance[target[:depth]] = (where, (label, 1))
            for keys, (at, origin) in inherited.items():
                if origin is None or origin[0] is None:
                    origin = (label, origin[1] if origin is not None else at[0])
                provenance[target + keys] = (where, origin)
    return result, provenance


def _paths(data: Any, keys: tuple = ()):
    """Every key path of a mapping, mappings and leaves alike."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield keys + (key,)
            yield from _paths(value, keys + (key,))


def _entry_targets(entry: Any) -> list[tuple[str, str | None]]:
    """(group, option) pairs a defaults entry names; group "" for a config beside the file."""
    if isinstance(entry, str):
        return [("", entry)]
    if not isinstance(entry, Mapping):
        return []
    pairs = []
    for key, value in entry.items():
        group = str(key).removeprefix("override ").removeprefix("optional ").strip()
        group = group.split("@", 1)[0].strip("/")
        options = value if isinstance(value, list) else [value]
        pairs += [(group, None if option is None else str(option)) for option in options]
    return pairs


def _load_parent(group: str, option: str, path: Path, state: Composed, level: int, seen: set[str]):
    """(data, document, path) of a defaults entry's config, or the reason it was not read."""
    shown = f"{group}/{option}" if group else option
    if _INTERPOLATION in option or _INTERPOLATION in group:
        return f"defaults entry {shown} is chosen at run time (an interpolation): not composed"
    parts = [p for p in f"{group}/{option}".split("/") if p]
    if any(p in ("..", ".") for p in parts):
        return f"defaults entry {shown} leaves the config tree: not read"
    if level >= MAX_LEVELS:
        return f"defaults entry {shown}: more than {MAX_LEVELS} levels of defaults"
    if state.read >= MAX_PARENTS:
        return f"defaults entry {shown}: more than {MAX_PARENTS} configs to compose"
    found = _find(parts, path.parent, state.looked_for)
    if found is None:
        places = "beside this file" if not group else "beside this file or in a directory above it"
        return f"defaults entry {shown}: {shown}.yaml is not {places}, so this unit was not composed"
    if os.path.realpath(found) in seen:
        return f"defaults entry {shown} includes itself"
    state.read += 1
    try:
        document = load(found, read_text(found))
    except (Skipped, ParseError) as error:
        return f"defaults entry {shown}: {found.name} not read ({getattr(error, 'message', None) or error})"
    root = document.roots[0] if len(document.roots) == 1 else None
    if not isinstance(root, Mapping):
        return f"defaults entry {shown}: {found.name} holds no mapping"
    return root, document, found


def _find(parts: list[str], directory: Path, looked_for: list[str]) -> Path | None:
    """``group/option.yaml`` beside the file, else in up to SEARCH_UP directories above it;
    each candidate is added to ``looked_for``."""
    top = directory
    for _ in range(SEARCH_UP):
        top = top.parent
    candidates = [directory, *list(directory.parents)[:SEARCH_UP]]
    for base in candidates:
        for suffix in YAML_SUFFIXES:
            candidate = base.joinpath(*parts[:-1], parts[-1] + suffix)
            looked_for.append(str(candidate))
            if candidate.is_file() and _inside(candidate, top):
                return candidate
    return None


def _inside(candidate: Path, top: Path) -> bool:
    real, base = os.path.realpath(candidate), os.path.realpath(top)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def merge(base: Mapping, over: Mapping) -> dict:
    """Hydra's merge: ``over`` wins key by key, mappings merge deeply, lists are replaced."""
    result = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


def _resolve(root: dict, state: Composed) -> dict:
    """Plain interpolations resolved with OmegaConf; resolver calls and missing keys left as written."""
    leaves = [(keys, value) for keys, value in _leaves(root) if isinstance(value, str) and _INTERPOLATION in value]
    if not leaves:
        return root
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        config = OmegaConf.create(_plain(root))
    except (OmegaConfBaseException, ValueError, TypeError, RecursionError) as error:
        for keys, value in leaves:
            state.problems.append(((0,) + keys, f"{_dotted(keys)} is {value}: not resolved ({type(error).__name__})"))
        return root
    for keys, value in leaves:
        resolver = _RESOLVER.search(value)
        if resolver is not None:
            reason = f"{_dotted(keys)} is {value}, which needs the resolver {resolver.group(1)}: not resolved"
            state.problems.append(((0,) + keys, reason))
            continue
        try:
            node: Any = config
            for key in keys[:-1]:
                node = node[key]
            resolved = node[keys[-1]]
        except (OmegaConfBaseException, KeyError, IndexError, ValueError, TypeError, RecursionError) as error:
            if type(error).__name__ == "UnsupportedInterpolationType":  # what it refers to calls a resolver
                reason = f"{_dotted(keys)} is {value}, which refers to a value that needs a resolver: not resolved"
            else:
                reason = (f"{_dotted(keys)} is {value}, which refers to a key not in this config (composed at "
                          "run time?): not resolved")
            state.problems.append(((0,) + keys, reason))
            continue
        if isinstance(resolved, (str, int, float, bool)) or resolved is None:
            _set(root, keys, resolved)
    return root


def _leaves(data: Any, keys: tuple = ()):
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from _leaves(value, keys + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _leaves(value, keys + (index,))
    else:
        yield keys, data


def _plain(data: Any) -> Any:
    """Keys as OmegaConf accepts them (text, numbers, booleans)."""
    if isinstance(data, Mapping):
        return {k if isinstance(k, (str, int, float, bool)) else str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return data


def _set(root: dict, keys: tuple, value: Any) -> None:
    node: Any = root
    for key in keys[:-1]:
        child = node[key]
        if isinstance(child, Mapping) and not isinstance(child, dict):
            child = dict(child)
            node[key] = child
        elif isinstance(child, list):
            child = list(child)
            node[key] = child
        node = child
    node[keys[-1]] = value


def _dotted(keys: tuple) -> str:
    return ".".join(str(k) for k in keys)
