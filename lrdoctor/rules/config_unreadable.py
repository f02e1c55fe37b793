"""LRD013 config-unreadable: a config file, or a unit in it, that could not be read.

Why: a gate may pass only what it judged. A file that does not parse, or was not
read at all (binary, not UTF-8, over the 2,000,000-byte limit, not a regular
file, a link into /proc, /sys or /dev), was checked by no rule; nor was a unit
that went over a reading budget (a zoo ``policy_kwargs`` string too long or too
deeply nested to parse safely). Passing them in silence would let a pull request
switch the gate off by breaking a file, so each is an error by default, reported
where reading stopped, and every other file and unit is still checked.

``lrdoctor check`` emits it, for config files only; there is nothing to set but
its severity (``[rules.LRD013] severity = "warning"``), or ``--ignore
config-unreadable`` for a tree that keeps such files on purpose. An ``allow``
entry for the whole file covers it; an inline ``# lrdoctor: ignore[LRD013]``
works only for a unit, in a file that parsed.

Example::

    configs/ppo.yaml:3:8: LRD013 error parse error: expected ',' or ']', but
    got ':' (nothing in this file was checked)
    hyperparams/ppo_lstm.yml:12:3: LRD013 error unit CartPole-v1 not read:
    policy_kwargs is longer than 2,000 characters (nothing in this unit was checked)
"""

from __future__ import annotations

from lrdoctor.model import Severity
from lrdoctor.rules.common import Problem

CODE = "LRD013"
SLUG = "config-unreadable"
SEVERITY = Severity.error
SCOPE = "config"
REQUIRES: tuple = ()
OPTIONS: dict = {}
LIMITS: dict = {}


def not_parsed(message: str, line: int, column: int) -> Problem:
    """A file whose text is not valid YAML, JSON or TOML, or goes over a parser limit."""
    return Problem(
        message=f"parse error: {message} (nothing in this file was checked)",
        evidence={"kind": "parse-error", "reason": message},
        line=line,
        column=column,
    )


def not_read(reason: str) -> Problem:
    """A file that was never parsed (binary, too large, not a regular file ...): at its first line."""
    return Problem(
        message=f"not read: {reason} (nothing in this file was checked)",
        evidence={"kind": "not-read", "reason": reason},
        line=1,
        column=1,
    )


def unit_not_read(unit: str, reason: str, line: int, column: int) -> Problem:
    """One training unit of a file that parsed, given up on (a reading budget); the others are judged."""
    name = f"unit {unit}" if unit else "the file's unit"
    return Problem(
        message=f"{name} not read: {reason} (nothing in this unit was checked)",
        evidence={"kind": "unit-not-read", "reason": reason, "unit": unit},
        line=line,
        column=column,
    )
