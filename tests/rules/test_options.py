"""Options: defaults, then the one configuration file found, then the command line."""

import pytest

from lrdoctor import rules
from lrdoctor.errors import InputError
from lrdoctor.model import Severity
from lrdoctor.rules.options import BOUNDS, default_options, find_config, load_options


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_come_from_the_rules(tmp_path):
    options = load_options(config=write(tmp_path / "lrdoctor.toml", ""))
    assert options.select == frozenset(rules.RULES)
    assert options.severities["LRD001"] is Severity.error and options.severities["LRD010"] is Severity.info
    assert options.rule_options["LRD001"]["threshold"] == 0.02
    assert options.fail_on == "error" and options.allow == () and options.severity_overridden == frozenset()
    assert default_options().rule_options == options.rule_options


def test_pyproject_table_found_upward(tmp_path):
    write(tmp_path / "pyproject.toml", """
[tool.lrdoctor]
fail-on = "warning"
select = ["LRD"]
ignore = ["entropy-collapse"]
allow = ["configs/legacy.yml"]
[tool.lrdoctor.rules.kl-exceeded]
threshold = 0.03
severity = "warning"
[tool.lrdoctor.rules.LRD008]
window = 20
""")
    nested = tmp_path / "runs" / "sweep"
    nested.mkdir(parents=True)
    options = load_options(cwd=nested)
    assert options.source == str(tmp_path / "pyproject.toml")
    assert options.fail_on == "warning" and options.allow == ("configs/legacy.yml",)
    assert "LRD005" not in options.select and "LRD001" in options.select
    assert options.rule_options["LRD001"]["threshold"] == 0.03
    assert options.severities["LRD001"] is Severity.warning and options.severity_overridden == {"LRD001"}
    assert options.rule_options["LRD008"]["window"] == 20


def test_nearest_file_wins_and_lrdoctor_toml_before_pyproject(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.lrdoctor]\nfail-on = "never"\n')
    write(tmp_path / "sub" / "pyproject.toml", "[project]\nname = 'x'\n")  # no [tool.lrdoctor]: passed over
    assert find_config(tmp_path / "sub")[0] == tmp_path / "pyproject.toml"
    write(tmp_path / "sub" / "lrdoctor.toml", 'fail-on = "warning"\n')
    assert load_options(cwd=tmp_path / "sub").fail_on == "warning"
    write(tmp_path / "lrdoctor.toml", 'fail-on = "error"\n')
    assert find_config(tmp_path)[0] == tmp_path / "lrdoctor.toml"


def test_lrdoctor_toml_may_use_the_pyproject_table(tmp_path):
    config = write(tmp_path / "lrdoctor.toml", '[tool.lrdoctor]\nfail-on = "never"\n')
    assert load_options(config=config).fail_on == "never"


def test_command_line_overrides_the_file(tmp_path):
    config = write(tmp_path / "lrdoctor.toml", """
fail-on = "warning"
ignore = ["kl-exceeded", "LRD004"]
[rules.kl-exceeded]
threshold = 0.03
""")
    options = load_options(
        config=config,
        select=["LRD001,LRD004", "LRD010"],
        ignore=["LRD010"],
        rule_settings={"kl-exceeded.threshold": "0.05", "LRD001.window": "5", "policy-collapse.use-target-kl": "no"},
        fail_on="never",
        severity_overrides={"LRD004": "error"},
    )
    # Selected by name on the command line, so the file's ignore does not remove them; the CLI's ignore does.
    assert options.select == {"LRD001", "LRD004"}
    assert options.rule_options["LRD001"]["threshold"] == 0.05 and options.rule_options["LRD001"]["window"] == 5
    assert options.rule_options["LRD006"]["use_target_kl"] is False
    assert options.fail_on == "never" and options.severities["LRD004"] is Severity.error


@pytest.mark.parametrize(
    "text, expected",
    [
        ('unknown = 1\n', "unknown key 'unknown'"),
        ('fail-on = "sometimes"\n', "fail-on: expected one of error, warning, never"),
        ('select = ["LRD999"]\n', "select: unknown rule: LRD999"),
        ('select = "LRD001"\n', "select must be a list"),
        ('allow = "x"\n', "allow must be a list of strings"),
        ('[rules.no-such-rule]\nthreshold = 1\n', "rules.no-such-rule: unknown rule: no-such-rule"),
        ('[rules.kl-exceeded]\nthresold = 0.1\n', "rules.kl-exceeded.thresold: unknown option for LRD001"),
        ('[rules.kl-exceeded]\nthreshold = "high"\n', "rules.kl-exceeded.threshold: expected a number"),
        ('[rules.kl-exceeded]\nwindow = 2.5\n', "rules.kl-exceeded.window: expected a whole number"),
        ('[rules.kl-exceeded]\nuse_target_kl = 1\n', "expected true or false"),
        ('[rules.kl-exceeded]\nseverity = "fatal"\n', "expected info, warning or error"),
        ('[rules.kl-exceeded]\nthreshold = -0.02\n', "rules.kl-exceeded.threshold: must be more than 0, got -0.02"),
        ('[rules.LRD008]\nthreshold = 30\n', "rules.LRD008.threshold: must be more than 0 and at most 1, got 30"),
        # TOML's integers are 64-bit; tomllib reads larger ones, which once overflowed a float in the report
        ('[rules.kl-exceeded]\nwindow = 1' + '0' * 400 + '\n', "window: expected a whole number below 2^63, got 1000"),
        ('[rules.kl-exceeded]\nwindow = -1' + '0' * 400 + '\n', "window: expected a whole number below 2^63, got -100"),
        ("fail-on = \n", "not valid TOML"),
    ],
)
def test_file_errors_name_the_file_and_the_key(tmp_path, text, expected):
    config = write(tmp_path / "lrdoctor.toml", text)
    with pytest.raises(InputError) as error:
        load_options(config=config)
    assert str(config) in str(error.value) and expected in str(error.value)


@pytest.mark.parametrize(
    "cli, expected",
    [
        ({"rule_settings": {"kl-exceeded.threshold": "high"}}, "--set kl-exceeded.threshold: expected a number"),
        ({"rule_settings": {"kl-exceeded.window": "2.5"}}, "expected a whole number below 2^63, got '2.5'"),
        ({"rule_settings": {"kl-exceeded": "0.03"}}, "expected RULE.OPTION=VALUE"),
        ({"rule_settings": {"kl-exceeded.threshold": "-1"}}, "--set kl-exceeded.threshold: must be more than 0, got -1"),
        ({"rule_settings": {"kl-exceeded.threshold": "0"}}, "--set kl-exceeded.threshold: must be more than 0, got 0"),
        ({"rule_settings": {"LRD001.window": "1e300"}}, "--set LRD001.window: expected a whole number below 2^63"),
        ({"rule_settings": {"LRD001.window": "0"}}, "--set LRD001.window: must be at least 1, got 0"),
        ({"rule_settings": {"value-divergence.ev_floor": "2"}}, "value-divergence.ev_floor: must be at most 1, got 2"),
        ({"rule_settings": {"nope.threshold": "1"}}, "unknown rule: nope"),
        ({"select": ["LRD9"]}, "--select: unknown rule: LRD9"),
        ({"ignore": ["entropy"]}, "--ignore: unknown rule: entropy"),
        ({"fail_on": "always"}, "--fail-on: expected one of"),
        ({"severity_overrides": {"LRD001": "loud"}}, "expected info, warning or error"),
    ],
)
def test_command_line_errors(tmp_path, cli, expected):
    with pytest.raises(InputError) as error:
        load_options(config=write(tmp_path / "lrdoctor.toml", ""), **cli)
    assert expected in str(error.value)


def test_every_numeric_option_has_limits_that_hold_its_default():
    for code, module in rules.RULES.items():
        limits = getattr(module, "LIMITS", {})
        assert set(limits) <= set(module.OPTIONS), code
        for name, default in module.OPTIONS.items():
            if isinstance(default, bool) or not isinstance(default, (int, float)):
                continue
            assert name in limits, f"{code}.{name} has no LIMITS entry"
            assert set(limits[name]) <= set(BOUNDS), f"{code}.{name}"
            assert all(BOUNDS[b](default, limit) for b, limit in limits[name].items()), f"{code}.{name}"


@pytest.mark.parametrize(
    "setting, allowed",
    [("clip-fraction-high.threshold=1", True), ("clip-fraction-high.threshold=0", False),
     ("kl-exceeded.window=1", True), ("kl-exceeded.error_ratio=1", True), ("value-divergence.ev_floor=1", True)],
)
def test_a_bound_is_allowed_unless_it_is_exclusive(tmp_path, setting, allowed):
    """Exclusive where the bound itself is nonsense: a clip-fraction threshold of 0 flags every update."""
    name, value = setting.split("=")
    config = write(tmp_path / "lrdoctor.toml", "")
    if allowed:
        code = rules.get(name.split(".")[0]).CODE
        assert load_options(config=config, rule_settings={name: value}).rule_options[code][name.split(".")[1]] == 1
    else:
        with pytest.raises(InputError, match=f"must be more than 0 and at most 1, got {value}"):
            load_options(config=config, rule_settings={name: value})


def test_missing_explicit_config(tmp_path):
    with pytest.raises(InputError, match="configuration file not found"):
        load_options(config=tmp_path / "nope.toml")


def test_options_cannot_be_mutated(tmp_path):
    options = load_options(config=write(tmp_path / "lrdoctor.toml", ""))
    with pytest.raises(TypeError):
        options.rule_options["LRD001"]["threshold"] = 1.0


def test_options_go_to_a_worker_process_and_come_back_equal_and_read_only():
    import pickle

    from lrdoctor.rules.options import load_options

    options = load_options(rule_settings={"kl-exceeded.threshold": "0.03", "policy-collapse.return_drop": "0.2"})
    back = pickle.loads(pickle.dumps(options))
    assert back == options and back.rule_options["LRD006"]["kl_threshold"] == 0.03
    with pytest.raises(TypeError):
        back.rule_options["LRD001"]["threshold"] = 1.0
