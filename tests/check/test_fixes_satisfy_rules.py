"""Every fix ``check`` proposes, applied, passes every rule (issue 16).

A fix that its own rules would pass without warmup is a defect: "set lr_schedule:
adaptive" on a recurrent rl_games unit clears LRD012 and earns LRD003. Where the
framework has a config key for the schedule (RLlib's knots, a generic ``lr_schedule``),
the key is written into the unit and the unit judged again; where it has none, the fix
must say so and name no schedule of the framework's own as the cure.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from lrdoctor.check import check_paths
from lrdoctor.check.lint import _unit_problems
from lrdoctor.configs.compose import read_document
from lrdoctor.configs.formats import read_unit
from lrdoctor.configs.loaders import Document, read_text
from lrdoctor.configs.split import split_units
from lrdoctor.rules.options import default_options

TESTS = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for folder in ("check_corpus", "library_configs") for p in (TESTS / folder).rglob("*")
                 if p.suffix in (".yaml", ".yml", ".json", ".toml") and p.name != "VERSIONS.json")
LR_RULES = ("LRD002", "LRD003")
# What an honest "no key for warmup here" says, per framework.
NO_KEY_WORDS = ("no config key for warmup", "no flag for warmup", "no YAML name for warmup",
                "no zoo learning_rate string gives warmup", "has no warmup schedule in its config")
# Schedules that start at the full LR: never a fix for a recurrent policy.
NOT_A_WARMUP = re.compile(r"(set|use) (lr_schedule|--lr_schedule|learning_rate_scheduler)\W+"
                          r"(adaptive|kl_adaptive\w*|linear\w*|KLAdaptiveLR|lin_)")


def units_of(path: Path):
    document = read_document(path, read_text(path))
    return document, split_units(document)


def findings(path: Path):
    return [f for f in check_paths([path], default_options()).findings if f.code in LR_RULES + ("LRD012",)]


def judged_again(document: Document, unit_name: str, edit) -> set[str]:
    """The codes of the unit once ``edit`` has changed a copy of its data."""
    roots = copy.deepcopy(list(document.roots))
    edited = Document(tuple(roots), {}, (), False, document.kind)
    unit = next(u for u in split_units(edited) if u.name == unit_name)
    edit(unit.data)
    again = next(u for u in split_units(edited) if u.name == unit_name)
    record = read_unit(edited, again, "edited" + ".yaml")
    return {code for code, _ in _unit_problems(record, default_options())}


def set_at(data: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        data = data.setdefault(key, {})
    data[last] = value


def remove_at(data: dict, dotted: str) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        data = data[key]
    data.pop(last, None)


LR_CASES = [(p, f) for p in CONFIGS for f in findings(p) if f.code in LR_RULES]


def test_the_corpus_has_fixes_of_both_kinds():
    assert sum(bool(f.fix["in_config"]) for _, f in LR_CASES) >= 3
    assert sum(not f.fix["in_config"] for _, f in LR_CASES) >= 8


@pytest.mark.parametrize("path, finding", LR_CASES, ids=[f"{p.name}:{f.line}:{f.code}" for p, f in LR_CASES])
def test_an_lr_fix_passes_every_rule(path, finding):
    fix = finding.fix
    if not fix["in_config"]:
        assert any(words in fix["config_text"] for words in NO_KEY_WORDS) or "learning_rate=Schedule(" in fix[
            "config_text"], fix["config_text"]
        assert not NOT_A_WARMUP.search(fix["config_text"]), fix["config_text"]
        return
    document, _ = units_of(path)
    key, value = fix["config"]["key"], fix["config"]["value"]
    if isinstance(value, str):  # knots as the config should hold them
        value = [[step, lr] for step, lr in fix["knots"]]
    assert judged_again(document, finding.evidence["unit"], lambda data: set_at(data, key, value)) & {
        "LRD002", "LRD003", "LRD012"} == set()


KL_CASES = [(p, f) for p in CONFIGS for f in findings(p) if f.code == "LRD012"]


@pytest.mark.parametrize("path, finding", KL_CASES, ids=[f"{p.name}:{f.line}" for p, f in KL_CASES])
def test_a_kl_guard_fix_adds_no_lr_finding(path, finding):
    """LRD012's fix, applied, clears LRD012 and brings no LR finding the unit did not have."""
    document, _ = units_of(path)
    message = finding.message.split("Fix: ", 1)[1]
    unit = finding.evidence["unit"]
    before = {f.code for f in findings(path) if f.evidence.get("unit") == unit}
    key = finding.evidence["key"]
    if message.startswith("remove"):
        after = judged_again(document, unit, lambda data: remove_at(data, key))
    else:
        found = re.match(r"set (\S+): (\S+)", message)
        assert found, message
        target, value = found.group(1), float(found.group(2))
        assert not target.startswith("lr_schedule"), message  # never "set lr_schedule: adaptive" here
        after = judged_again(document, unit, lambda data: set_at(data, key if target in key else target, value))
    assert "LRD012" not in after
    assert after & set(LR_RULES) <= before
