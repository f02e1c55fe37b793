"""The reports' JSON text is json.dumps(indent=2, allow_nan=False)'s, character for character:
on generated documents, on every JSON report of the sample logs, and for what it does not encode."""

import enum
import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrdoctor.report.indented import json_text

ROOT = Path(__file__).resolve().parents[2]


def reference(document) -> str:
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # any code point, lone surrogates and control characters included
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5)
    | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_generated_documents_are_written_as_json_dumps_writes_them(document):
    assert json_text(document) == reference(document)


class Level(enum.IntEnum):
    HIGH = 3


class Word(str, enum.Enum):
    ERROR = "error"


@pytest.mark.parametrize(
    "document",
    [
        {"level": Level.HIGH, "word": Word.ERROR, "big": 10**30, "tiny": 5e-324, "neg": -0.0},
        {1: "a number as a key"},
        {None: "null as a key", True: "true as a key", 2.5: "a float as a key"},
        {"set": {1, 2}},  # not JSON: json.dumps says so
        [float("nan")],
        {"deep": {"inf": math.inf}},
    ],
)
def test_what_it_does_not_encode_itself_goes_to_json_dumps(document):
    try:
        expected = reference(document)
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc), match=re.escape(str(exc))):
            json_text(document)
    else:
        assert json_text(document) == expected


@pytest.mark.parametrize("format", ["json", "sarif"])
def test_the_sample_logs_reports_are_json_dumps_text(format, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from lrdoctor.cli import app

    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / f"report.{format}"
    result = CliRunner().invoke(app, ["analyze", str(ROOT / "sample_logs"), "--format", format, "-o", str(out)])
    assert result.exit_code in (0, 1), result.output
    text = out.read_text()
    assert text == reference(json.loads(text))
