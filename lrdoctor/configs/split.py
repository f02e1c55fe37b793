"""Splitting a config file into training units: the configs that each train one policy.

Most files are one unit. Two real layouts hold several, keyed by name:
- rl-baselines3-zoo hyperparams (``hyperparams/ppo_lstm.yml``): one entry per env id,
  each a mapping of SB3 keyword arguments with ``policy`` and ``n_timesteps``;
- RLlib tuned examples: one entry per experiment, each with ``run`` and ``config``.
Each unit is judged on its own, and a suppression on its first line covers it. A zoo entry
that other entries merge from (``default: &default`` ... ``<<: *default``) is a template, not
a unit: its values are judged in each unit that merges them, at that unit's ``<<``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from lrdoctor.configs.loaders import Document

ZOO_KEYS = frozenset({"policy", "n_timesteps"})
RLLIB_EXPERIMENT_KEYS = frozenset({"run", "config"})


@dataclass(frozen=True)
class Unit:
    """One config that trains one policy.

    ``name`` is "" for a whole file, else the entry's key (an env id, an experiment);
    ``path`` is where its mapping sits in the document (for positions); ``layout``
    is "zoo", "rllib-experiments" or "file".
    """

    name: str
    data: Mapping[str, Any]
    path: tuple
    line: int
    layout: str


def split_units(document: Document) -> list[Unit]:
    units: list[Unit] = []
    for index, root in enumerate(document.roots):
        if not isinstance(root, Mapping):
            continue
        layout = _layout(root)
        if layout == "file":
            units.append(Unit("", root, (index,), document.where((index,))[0], "file"))
            continue
        templates = document.extras.get("merge_sources", ()) if layout == "zoo" else ()
        for name, entry in root.items():
            if isinstance(entry, Mapping) and (index, name) not in templates:
                path = (index, name)
                units.append(Unit(str(name), entry, path, document.where(path)[0], layout))
    return units


def _layout(root: Mapping[str, Any]) -> str:
    entries = [value for value in root.values() if isinstance(value, Mapping)]
    if not entries or len(entries) != len(root):
        return "file"
    if all(RLLIB_EXPERIMENT_KEYS <= set(entry) for entry in entries):
        return "rllib-experiments"
    # A zoo file: every entry is SB3 keyword arguments and the file itself is not one.
    if "policy" not in root and all(ZOO_KEYS & set(entry) for entry in entries):
        return "zoo"
    return "file"
