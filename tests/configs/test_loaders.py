"""Config loaders: positions of keys, parse errors with line/column, and the limits on hostile input."""

from __future__ import annotations

import math

import pytest

from lrdoctor.configs.loaders import (
    MAX_BYTES,
    MAX_DEPTH,
    ParseError,
    Skipped,
    load_json,
    load_toml,
    read_text,
)
from lrdoctor.configs.yaml_reader import load_yaml


def test_yaml_values_and_key_positions():
    doc = load_yaml("a: 1\nb:\n  c: !!float 1e-3\n  d: [1, {e: yes}]\n  f: .inf\n")
    (root,) = doc.roots
    assert root == {"a": 1, "b": {"c": 1e-3, "d": [1, {"e": "yes"}], "f": math.inf}}
    assert doc.positions[(0, "b", "c")] == (3, 3)
    assert doc.positions[(0, "b", "d", 1, "e")] == (4, 11)
    assert doc.where((0, "b", "missing")) == (2, 1)  # falls back to the nearest written key


def test_yaml_merge_keys_and_explicit_keys_win():
    doc = load_yaml("base: &base {lr: 1.0e-3, gamma: 0.99}\nrun:\n  <<: *base\n  lr: 3.0e-4\n")
    assert doc.roots[0]["run"] == {"lr": 3e-4, "gamma": 0.99}


def test_yaml_other_tags_are_text_never_objects():
    doc = load_yaml("a: !!python/object/apply:os.system ['echo pwned']\nb: !!python/name:os.system x\n")
    root = doc.roots[0]
    assert root["b"] == "x"
    assert root["a"] == ["echo pwned"]


def test_yaml_parse_error_has_line_and_column():
    with pytest.raises(ParseError) as caught:
        load_yaml("a: 1\nb: [1, 2\nc: 3\n")
    assert caught.value.line == 3
    assert caught.value.column >= 1


def test_yaml_alias_bomb_is_refused():
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]")
    with pytest.raises(ParseError, match="aliases"):
        load_yaml("\n".join(lines) + "\n")


def test_yaml_deep_nesting_is_refused():
    with pytest.raises(ParseError, match="nesting"):
        load_yaml("[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5))


def test_yaml_recursive_alias_is_refused():
    with pytest.raises(ParseError, match="nesting"):
        load_yaml("a: &a [*a]\n")


def test_json_positions_match_the_text():
    text = '{\n  "a": 1,\n  "b": {"c": [1, {"e": 2}], "f": -1.5e-3, "g": null}\n}'
    doc = load_json(text)
    assert doc.roots[0] == {"a": 1, "b": {"c": [1, {"e": 2}], "f": -1.5e-3, "g": None}}
    line, column = doc.positions[(0, "b", "f")]
    assert text.splitlines()[line - 1][column - 1:].startswith('"f"')
    assert not doc.has_comments


def test_json_escaped_keys_and_unicode():
    doc = load_json('{"\\u00e9t\\u00e9": {"lr": 1}, "k\\"q": 2}')
    assert doc.positions[(0, "été", "lr")] == (1, 20)
    assert doc.roots[0]["k\"q"] == 2


def test_json_parse_error_and_depth():
    with pytest.raises(ParseError) as caught:
        load_json('{\n  "a": 1,\n  "b": ,\n}')
    assert (caught.value.line, caught.value.column) == (3, 8)
    with pytest.raises(ParseError, match="nesting"):
        load_json("[" * 100_000 + "]" * 100_000)


def test_toml_positions_tables_dotted_keys_and_arrays_of_tables():
    text = (
        'x = 1\n[model]\nuse_lstm = true\nsub.k = 2\n[[runs]]\nlr = 1e-4\n[[runs]]\nlr = 2e-4\n'
        's = """\nfoo = 1\n"""\n'
    )
    doc = load_toml(text)
    assert doc.positions[(0, "model", "use_lstm")] == (3, 1)
    assert doc.positions[(0, "model", "sub", "k")] == (4, 1)
    assert doc.positions[(0, "runs", 1, "lr")] == (8, 1)
    assert (0, "runs", 1, "foo") not in doc.positions  # inside a multi-line string


def test_toml_parse_error_position():
    with pytest.raises(ParseError) as caught:
        load_toml("a = 1\nb = \n")
    assert caught.value.line == 2


def test_binary_non_utf8_and_huge_files_are_skipped(tmp_path):
    binary = tmp_path / "events.yaml"
    binary.write_bytes(b"\x00\x01\x02lr: 1")
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("lr: 1 # caf\xe9".encode("latin-1"))
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * (MAX_BYTES + 1))
    for path, reason in ((binary, "binary"), (latin1, "UTF-8"), (huge, "limit")):
        with pytest.raises(Skipped, match=reason):
            read_text(path)


def test_bom_is_dropped(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufefflr: 1\n".encode("utf-8"))
    assert read_text(path) == "lr: 1\n"
