"""The rule registry: every rule lrdoctor knows, by code, in code order.

A rule is a plain module (no classes), in the style of yamllint:

- its docstring is its user documentation (what, why, options, example);
- ``CODE`` ("LRD001"), ``SLUG`` ("kl-exceeded"), ``SEVERITY`` (the default),
  ``OPTIONS`` (defaults, plain data), ``SCOPE`` ("run", "config" or "both");
- ``LIMITS``: for the numeric options, their bounds as words, e.g.
  ``{"more_than": 0, "at_most": 1}`` (also ``at_least``, ``less_than``): exclusive
  where the bound itself is nonsense (a KL threshold of 0 flags every update); a
  value outside them is an input error when options are read;
- ``REQUIRES``: the canonical metrics a run-scoped check needs; an entry that is
  a tuple means any one of those. When one is missing the engine reports
  LRD010 metric-missing instead of running the rule, so rules stay simple;
- for run-scoped rules, ``check(run, options) -> Iterator[Problem]``;
- ``STATIC = True`` for a rule about the run's settings rather than its dynamics
  (a live run reports it once and does not stop on it unless asked).

The engine, not the rule, attaches code, slug and the configured severity.
Codes are stable: reports, suppressions and CI depend on them.
"""

from __future__ import annotations

from types import ModuleType
from typing import Iterable

from lrdoctor.errors import InputError
from lrdoctor.rules import (
    architecture_unknown,
    clip_fraction_high,
    collapse_forecast,
    config_not_understood,
    config_unreadable,
    constant_lr_recurrent,
    entropy_collapse,
    entropy_rising,
    kl_exceeded,
    kl_guard_config,
    metric_missing,
    no_warmup_recurrent,
    non_finite,
    policy_collapse,
    schedule_not_applied,
    value_divergence,
)
from lrdoctor.rules.common import Problem

__all__ = ["Problem", "RULES", "get", "resolve"]

_MODULES: tuple[ModuleType, ...] = (
    kl_exceeded,
    constant_lr_recurrent,
    no_warmup_recurrent,
    entropy_rising,
    entropy_collapse,
    policy_collapse,
    non_finite,
    clip_fraction_high,
    value_divergence,
    metric_missing,
    schedule_not_applied,
    kl_guard_config,
    architecture_unknown,
    config_unreadable,
    collapse_forecast,
    config_not_understood,
)

RULES: dict[str, ModuleType] = {module.CODE: module for module in sorted(_MODULES, key=lambda m: m.CODE)}
_BY_SLUG: dict[str, str] = {module.SLUG: module.CODE for module in _MODULES}


def get(name: str) -> ModuleType:
    """The rule with this code (``LRD001``, any case) or slug (``kl-exceeded``)."""
    key = name.strip()
    code = key.upper() if key.upper() in RULES else _BY_SLUG.get(key.lower())
    if code is None:
        raise InputError(f"unknown rule: {name} (see `lrdoctor rules`)")
    return RULES[code]


def resolve(names: Iterable[str]) -> set[str]:
    """Codes named by codes, slugs or code prefixes (``LRD``, ``LRD00``); unknown names fail."""
    codes: set[str] = set()
    for name in names:
        key = name.strip()
        prefix = key.upper()
        matching = {code for code in RULES if code.startswith(prefix)} if prefix.startswith("LRD") else set()
        codes |= matching or {get(key).CODE}
    return codes


def static(code: str) -> bool:
    """Whether a rule judges a run's settings (known before its first update), not its dynamics."""
    return bool(getattr(RULES[code], "STATIC", False))
