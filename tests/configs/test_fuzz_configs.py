"""Fuzzing ``lrdoctor check`` with config text in each format (YAML, JSON, TOML).

Two sources of text: valid documents built by hypothesis from the keys and values
training configs use (policies, learning rates, schedules, warmup, KL targets),
serialised by each format's writer; and the real configs of tests/check_corpus/ and
tests/bad_inputs/ cut, spliced and sprinkled with syntax characters. Invariants:

- nothing escapes; the exit code is 0 or 1 (a file that cannot be read is an LRD013
  error finding, never exit 2 and never a pass), and 0 or 1 with no LRD013 for a valid document;
- JSON and SARIF output parse (SARIF against the 2.1.0 schema when it is at hand);
- a file that cannot be read is one LRD013 finding inside the file, in every format;
- findings point at lines of the file.

Fixed, derandomised example budgets keep this to a few seconds.
"""

from __future__ import annotations

import functools
import io
import json
import math
import re
from pathlib import Path

from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from typer.testing import CliRunner

from lrdoctor.cli import app

TESTS = Path(__file__).resolve().parents[1]
SARIF_SCHEMA = TESTS.parents[1] / "shared" / "data" / "sarif-schema-2.1.0.json"
FUZZ = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# Where an LRD013 config-unreadable finding points, in the text and GitHub formats.
UNREADABLE_LINE = {
    "text": re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<column>\d+): LRD013 error \S"),
    "github": re.compile(r"^::error file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<column>\d+),title=LRD013 "),
}

runner = CliRunner()


def strict_json(text: str):
    """JSON as the standard defines it: NaN and Infinity (which json.loads accepts) fail."""

    def refuse(constant: str):
        raise ValueError(f"not standard JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


# --- documents --------------------------------------------------------------------------

KEYS = [
    "policy", "learning_rate", "lr", "lr_schedule", "schedule", "scheduler", "warmup", "warmup_steps",
    "lr_warmup", "n_timesteps", "total_timesteps", "train_for_env_steps", "target_kl", "kl_threshold",
    "desired_kl", "model", "use_lstm", "use_rnn", "rnn_type", "arch", "architecture", "network",
    "policy_kwargs", "lstm_hidden_size", "env", "n_steps", "clip_range", "config", "params",
]
WORDS = [
    "MlpLstmPolicy", "CnnLstmPolicy", "MlpPolicy", "RecurrentPPO", "PPO", "gru", "lstm", "GRU", "attention",
    "mamba", "transformer", "mlp", "constant", "linear", "cosine", "adaptive", "lin_3e-4", "lin_0.001",
    "3e-4", "1e-5", "none", "", "dict(lstm_hidden_size=64)", "graph_free",
]
# Free text from the characters config keys and values are written with.
words = st.text(st.characters(categories=["L", "N"], include_characters="_-./ +:"), max_size=12)
scalars = (
    st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([3e-4, 1e-5, 0.0, 0.02, 1e7, 2_000_000])
    | st.sampled_from(WORDS)
    | words
)
keys = st.sampled_from(KEYS) | words.filter(bool)
documents = st.recursive(
    st.dictionaries(keys, scalars, max_size=6),
    lambda children: st.dictionaries(keys, children | st.lists(children | scalars, max_size=4), max_size=6),
    max_leaves=15,
)

# Half of them start as a recurrent policy with some learning rate, so the rules have work.
documents = documents | st.builds(
    lambda rest, policy, lr: {"policy": policy, "learning_rate": lr, **rest},
    documents,
    st.sampled_from(["MlpLstmPolicy", "CnnLstmPolicy", "gru"]),
    scalars,
)


def as_yaml(document: dict) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump(document, stream)
    text = stream.getvalue()
    try:
        yaml.load(text)
    except YAMLError:
        # ruamel's scanner rejects a few plain scalars its own dumper writes ("{policy: :0}"):
        # a disagreement inside ruamel, not a document lrdoctor should be tested on.
        reject()
    return text


def as_json(document: dict) -> str:
    return json.dumps(document, indent=2)


def as_toml(document: dict) -> str:
    """A minimal TOML writer (tomllib only reads): a table per nested dict, inline values."""
    lines: list[str] = []

    def value(item) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int):
            return str(item)
        if isinstance(item, float):
            return "nan" if math.isnan(item) else ("inf" if item > 0 else "-inf") if math.isinf(item) else repr(item)
        if isinstance(item, str):
            # JSON's escapes are TOML's, except that TOML has no surrogate pairs and escapes DEL
            return json.dumps(item, ensure_ascii=False).replace("\x7f", "\\u007f")
        if isinstance(item, list):
            return "[" + ", ".join(value(i) for i in item) + "]"
        return "{" + ", ".join(f"{value(k)} = {value(v)}" for k, v in item.items()) + "}"

    def table(prefix: list[str], mapping: dict) -> None:
        nested = {k: v for k, v in mapping.items() if isinstance(v, dict)}
        for key, item in mapping.items():
            if key not in nested:
                lines.append(f"{value(key)} = {value(item)}")
        for key, item in nested.items():
            lines.append("[" + ".".join(value(k) for k in [*prefix, key]) + "]")
            table([*prefix, key], item)

    table([], document)
    return "\n".join(lines) + "\n"


WRITERS = {".yaml": as_yaml, ".json": as_json, ".toml": as_toml}


# --- the invariants ---------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def sarif_validator():
    """SARIF 2.1.0's schema, when ../shared/data holds it (as for tests/test_check_cli.py)."""
    if not SARIF_SCHEMA.is_file():
        return None
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def check(path: Path, report_format: str):
    result = runner.invoke(app, ["check", str(path), "--format", report_format])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1)
    assert "Traceback" not in result.output
    return result


def assert_report_is_valid(result, report_format: str, text: str) -> None:
    report = strict_json(result.stdout)
    lines = text.count("\n") + 1
    if report_format == "sarif":
        if sarif_validator() is not None:
            sarif_validator().validate(report)
        for item in report["runs"][0]["results"]:
            region = item["locations"][0]["physicalLocation"]["region"]
            assert 1 <= region["startLine"] <= lines
    else:
        for finding in report["findings"]:
            assert re.fullmatch(r"LRD\d{3}", finding["code"])
            assert finding["line"] is None or 1 <= finding["line"] <= lines


def unreadable(result, report_format: str) -> list[tuple[str | None, int, int]]:
    """(file, line, column) of each LRD013 finding in the output."""
    if report_format == "json":
        return [(f["file"], f["line"], f["column"]) for f in strict_json(result.stdout)["findings"]
                if f["code"] == "LRD013"]
    if report_format == "sarif":
        located = [(item["locations"][0]["physicalLocation"], item) for item in
                   strict_json(result.stdout)["runs"][0]["results"] if item["ruleId"] == "LRD013"]
        return [(None, where["region"]["startLine"], where["region"]["startColumn"]) for where, _ in located]
    found = []
    for line in result.stdout.splitlines():
        match = UNREADABLE_LINE[report_format].match(line)
        if match:
            found.append((match["file"], int(match["line"]), int(match["column"])))
    return found


def assert_an_unreadable_file_is_one_finding_in_it(result, report_format: str, path: Path, text: str) -> None:
    found = unreadable(result, report_format)
    event(f"unreadable {bool(found)}")
    assert len(found) <= 1, result.stdout
    if found:
        assert result.exit_code == 1, result.stderr
        assert result.stderr.rstrip().endswith(" not read"), result.stderr
    for file, line, column in found:
        assert file in (None, str(path)), file
        assert 1 <= line <= text.count("\n") + 1 and column >= 1


@settings(max_examples=60, **FUZZ)
@given(document=documents, suffix=st.sampled_from(sorted(WRITERS)), report_format=st.sampled_from(["json", "sarif"]))
def test_valid_documents_are_checked_never_rejected(tmp_path, document, suffix, report_format):
    text = WRITERS[suffix](document)
    if suffix == ".toml":
        import tomllib

        tomllib.loads(text)  # the test's own writer must write TOML
    path = tmp_path / f"train{suffix}"
    path.write_text(text, encoding="utf-8")
    result = check(path, report_format)
    event(f"exit {result.exit_code}")
    assert unreadable(result, report_format) == [], result.stdout
    assert_report_is_valid(result, report_format, text)


CORPUS = sorted(
    p
    for folder in (TESTS / "check_corpus" / "fail", TESTS / "check_corpus" / "pass", TESTS / "bad_inputs" / "configs")
    for p in folder.iterdir()
    if p.suffix in (".yaml", ".yml", ".json", ".toml") and p.stat().st_size < 4000
)
SYNTAX = list("[]{}:,&*!|>-'\"#=\n\t \\.%@`") + ["\x00", "\ufeff", "- ", "<<: *a", "&a ", "!!python/name:x ", "${"]


@st.composite
def spliced(draw) -> tuple[str, str]:
    """A corpus config (its suffix and text) with a few cuts and insertions."""
    source = draw(st.sampled_from(CORPUS))
    text = source.read_bytes().decode("utf-8", "replace")
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "truncate", "duplicate"]))
        if kind == "insert":
            text = text[:where] + draw(st.sampled_from(SYNTAX) | st.text(max_size=6)) + text[where:]
        elif kind == "delete":
            text = text[:where] + text[where + draw(st.integers(1, 20)) :]
        elif kind == "truncate":
            text = text[:where]
        else:
            text = text[:where] + text[where : where + draw(st.integers(1, 80))] + text[where:]
    return source.suffix, text


@settings(max_examples=120, **FUZZ)
@given(case=spliced(), report_format=st.sampled_from(["json", "sarif", "text", "github"]))
def test_damaged_configs_never_crash_check(tmp_path, case, report_format):
    suffix, text = case
    path = tmp_path / f"config{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = check(path, report_format)
    event(f"exit {result.exit_code}")
    assert_an_unreadable_file_is_one_finding_in_it(result, report_format, path, text)
    if report_format in ("json", "sarif"):
        assert_report_is_valid(result, report_format, text)


@settings(max_examples=60, **FUZZ)
@given(
    text=st.text(st.characters(exclude_categories=["Cs"]), max_size=200) | st.sampled_from(SYNTAX),
    suffix=st.sampled_from([".yaml", ".json", ".toml"]),
)
def test_any_text_never_crashes_check(tmp_path, text, suffix):
    path = tmp_path / f"any{suffix}"
    path.write_text(text, encoding="utf-8")
    result = check(path, "json")
    event(f"exit {result.exit_code}")
    assert_an_unreadable_file_is_one_finding_in_it(result, "json", path, text)
    assert_report_is_valid(result, "json", text)
