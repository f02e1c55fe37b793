"""Each rule's defaults are stated once, in its own ``OPTIONS``; nothing else restates them.

A default restated elsewhere drifts: the KL threshold once lived in the rule, in the
reporters (``DEFAULT_KL_THRESHOLD = 0.02``), in the config checks (``options.get(
"near_peak", 0.5)``) and in the collapse rule's own copy, so ``--set
kl-exceeded.threshold=0.03`` did not reach LRD006. These tests read the package's
source and fail on each such second life.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lrdoctor import rules
from lrdoctor.rules.common import Follow
from lrdoctor.rules.options import default_options, load_options

PACKAGE = Path(rules.__file__).resolve().parent.parent
RULE_FILES = {Path(module.__file__).resolve(): code for code, module in rules.RULES.items()}
OPTION_DEFAULTS = {
    (name, value)
    for module in rules.RULES.values()
    for name, value in module.OPTIONS.items()
    if isinstance(value, (int, float)) and not isinstance(value, bool)
}
OPTION_NAMES = {name for name, _ in OPTION_DEFAULTS}
# Where OPTIONS are read on purpose: resolving them, and listing them for `lrdoctor rules`.
READS_OPTIONS = {PACKAGE / "rules" / "options.py", PACKAGE / "cli" / "rules.py"}


def sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def literal(node):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def test_no_option_is_read_with_a_fallback_default():
    found = []
    for path, tree in sources():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                    and len(node.args) == 2 and literal(node.args[0]) in OPTION_NAMES):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not found, f"options read with their own default: {found}"


def test_no_constant_restates_a_rule_default():
    found = []
    for path, tree in sources():
        if path in RULE_FILES:
            continue
        for node in tree.body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
                continue
            name, value = node.targets[0].id.lower(), literal(node.value)
            for option, default in OPTION_DEFAULTS:
                if option in name and value == default and not isinstance(value, bool):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.targets[0].id} = {value!r}")
    assert not found, f"rule defaults restated: {found}"


def test_no_rule_reads_another_rules_defaults():
    """A rule that needs another rule's option follows it (``Follow``), so the user's value reaches both."""
    found = []
    for path, tree in sources():
        if path in READS_OPTIONS:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "OPTIONS"):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not found, f"another module's OPTIONS read directly: {found}"


@pytest.mark.parametrize("code", sorted(rules.RULES))
def test_scope_matches_the_checks_a_rule_has(code):
    module = rules.RULES[code]
    has = {"run": hasattr(module, "check"), "config": hasattr(module, "check_config")}
    expected = {"run": {"run": True, "config": False}, "config": {"run": False, "config": True},
                "both": {"run": True, "config": True}}[module.SCOPE]
    if code in ("LRD010", "LRD013"):  # the engine and the check driver emit them: no check of their own
        expected = {"run": False, "config": False}
    assert has == expected


def test_collapse_rule_follows_the_kl_rule():
    assert isinstance(rules.RULES["LRD006"].OPTIONS["kl_threshold"], Follow)
    assert default_options().rule_options["LRD006"]["kl_threshold"] == rules.RULES["LRD001"].OPTIONS["threshold"]
    moved = load_options(cwd=Path("/"), rule_settings={"kl-exceeded.threshold": "0.03"})
    assert moved.rule_options["LRD006"]["kl_threshold"] == 0.03
    apart = load_options(cwd=Path("/"), rule_settings={"kl-exceeded.threshold": "0.03", "policy-collapse.kl_threshold": "0.05"})
    assert (apart.rule_options["LRD001"]["threshold"], apart.rule_options["LRD006"]["kl_threshold"]) == (0.03, 0.05)
