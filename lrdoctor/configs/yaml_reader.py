"""YAML configs as ``Document``s (``configs.loaders``), composed into nodes, never constructed.

Only the standard scalar tags are converted (``!!float 1e-3`` works); any other tag is read
as plain text, so nothing in a file can execute or build an object. Nesting, aliases and
the values they expand to are bounded before and while composing. A module of its own so
that ruamel is imported only when a YAML file is read.
"""

from __future__ import annotations

import math
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from lrdoctor.configs.loaders import MAX_ALIASES, MAX_DEPTH, MAX_VALUES, Document, ParseError

_YAML_TAG = "tag:yaml.org,2002:"


def load_yaml(text: str) -> Document:
    yaml = YAML(typ="safe", pure=True)
    try:
        _check_yaml_events(yaml, text)
        nodes = list(yaml.compose_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise ParseError(problem, line, column) from None
    except YAMLError as exc:
        raise ParseError(str(exc).splitlines()[0] if str(exc) else "invalid YAML") from None
    positions = _Positions()
    budget = [MAX_VALUES]
    roots = []
    for index, node in enumerate(nodes):
        if node is None:
            continue
        positions[(index,)] = (node.start_mark.line + 1, node.start_mark.column + 1)
        roots.append(_convert(node, (len(roots),), 0, positions, budget))
    return Document(tuple(roots), dict(positions), tuple(text.splitlines()), True, "yaml",
                    extras={"merge_sources": frozenset(positions.merge_sources)}, origins=positions.origins)


class _Positions(dict):
    """Positions of keys, and the origins of values a merge key brought in."""

    def __init__(self) -> None:
        super().__init__()
        self.origins: dict[tuple, tuple[str | None, int]] = {}
        self.paths: dict[int, tuple] = {}  # a mapping node's path, by the node's id
        self.merge_sources: set[tuple] = set()  # paths of mappings another one merges from


def _check_yaml_events(yaml: YAML, text: str) -> None:
    """Refuse deep nesting and alias floods before composing (the composer recurses)."""
    depth = aliases = 0
    for event in yaml.parse(text):
        if isinstance(event, (MappingStartEvent, SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise ParseError(f"nesting deeper than {MAX_DEPTH} levels", mark.line + 1, mark.column + 1, nesting=True)
        elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                mark = event.start_mark
                raise ParseError(f"more than {MAX_ALIASES} aliases", mark.line + 1, mark.column + 1)


def _convert(node, path: tuple, depth: int, positions: dict, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        mark = node.start_mark
        raise ParseError(f"more than {MAX_VALUES:,} values once aliases are expanded", mark.line + 1, mark.column + 1)
    if depth > MAX_DEPTH:  # aliases can nest deeper than the text does
        mark = node.start_mark
        raise ParseError(f"nesting deeper than {MAX_DEPTH} levels once aliases are expanded", mark.line + 1, nesting=True)
    if isinstance(node, ScalarNode):
        return _scalar(node)
    if isinstance(node, SequenceNode) and node.tag == _ZOO_ORDERED_DICT and _zoo_pairs(node):
        return _ordered_dict(node.value[0], path, depth, positions, budget)
    if isinstance(node, SequenceNode):
        items = []
        for index, child in enumerate(node.value):
            positions.setdefault(path + (index,), (child.start_mark.line + 1, child.start_mark.column + 1))
            items.append(_convert(child, path + (index,), depth + 1, positions, budget))
        return items
    if isinstance(node, MappingNode):
        mapping: dict[Any, Any] = {}
        if isinstance(positions, _Positions):
            positions.paths.setdefault(id(node), path)
        for key_node, value_node in node.value:
            if key_node.tag == _YAML_TAG + "merge":
                at = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                _merge(mapping, value_node, path, depth, positions, budget, at)
                continue
            key = _scalar(key_node) if isinstance(key_node, ScalarNode) else f"<{key_node.id} key>"
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                key = str(key)
            positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            origins = getattr(positions, "origins", None)
            if origins:  # written here after a merge key: its own value, not the merged one
                for where in [w for w in origins if w[: len(path) + 1] == path + (key,)]:
                    del origins[where]
            mapping[key] = _convert(value_node, path + (key,), depth + 1, positions, budget)
        return mapping
    return None


# rl-baselines3-zoo saves a run's hyperparameters (config.yml) as yaml.dump of an OrderedDict:
# this tag on a sequence holding one list of [key, value] pairs. Nothing is constructed: the
# pairs are read as the mapping they spell.
_ZOO_ORDERED_DICT = "tag:yaml.org,2002:python/object/apply:collections.OrderedDict"


def _zoo_pairs(node: SequenceNode) -> bool:
    return (
        len(node.value) == 1
        and isinstance(node.value[0], SequenceNode)
        and all(isinstance(p, SequenceNode) and len(p.value) == 2 and isinstance(p.value[0], ScalarNode)
                for p in node.value[0].value)
    )


def _ordered_dict(pairs: SequenceNode, path: tuple, depth: int, positions: dict, budget: list[int]) -> dict:
    mapping: dict[Any, Any] = {}
    for pair in pairs.value:
        key_node, value_node = pair.value
        key = str(_scalar(key_node))
        positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        mapping[key] = _convert(value_node, path + (key,), depth + 1, positions, budget)
    return mapping


def _merge(mapping: dict, value_node, path: tuple, depth: int, positions: dict, budget: list[int],
           at: tuple[int, int]) -> None:
    """``<<: *defaults``: keys of the merged mappings, unless written explicitly (YAML merge spec).

    A merged key is placed at this mapping's ``<<`` (its origin kept), not at the entry it came
    from: five zoo units merging one anchor are five locations, and an ignore comment on one
    of them covers that unit alone."""
    sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
    for source in sources:
        if isinstance(positions, _Positions) and id(source) in positions.paths:
            positions.merge_sources.add(positions.paths[id(source)])
        found = _Positions()
        found.paths = getattr(positions, "paths", {})
        merged = _convert(source, path, depth + 1, found, budget)
        if not isinstance(merged, dict):
            continue
        for key, value in merged.items():
            if key in mapping:
                continue
            mapping[key] = value
            for where, (line, _) in found.items():
                if where[: len(path) + 1] == path + (key,) and where not in positions:
                    positions[where] = at
                    origins = getattr(positions, "origins", None)
                    if origins is not None:
                        origins[where] = found.origins.get(where, (None, line))


def _scalar(node: ScalarNode) -> Any:
    """Standard YAML scalar tags only; anything else stays the text it was written as."""
    text = node.value
    tag = node.tag or ""
    if not tag.startswith(_YAML_TAG):
        return text
    kind = tag[len(_YAML_TAG):]
    if kind == "null":
        return None
    if kind == "bool":
        return text.lower() in ("true", "yes", "on", "y")
    if kind == "int":
        cleaned = text.replace("_", "")
        for base in (0, 10):
            try:
                return int(cleaned, base)
            except ValueError:
                continue
        return text
    if kind == "float":
        lowered = text.replace("_", "").lower()
        specials = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
        if lowered in specials:
            return specials[lowered]
        try:
            return float(lowered)
        except ValueError:
            return text
    return text
