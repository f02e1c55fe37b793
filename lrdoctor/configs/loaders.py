"""Reading config files into plain data that remembers where every key was written.

YAML, JSON and TOML each become a ``Document``: plain dicts, lists and scalars,
plus the 1-based line and column of every mapping key and sequence item, so a
finding can point at the key at fault.

Nothing here executes or constructs anything from the file. YAML is composed
into nodes and only the standard scalar tags are converted (``!!float 1e-3``
works); any other tag is read as plain text. Limits bound what a hostile file
can cost: size, nesting depth, and the number of values after aliases are
expanded (an "alias bomb" refers to a small list so often that expanding it
would take gigabytes).
"""

from __future__ import annotations

import bisect
import errno
import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

MAX_BYTES = 2_000_000  # training configs are kilobytes; anything larger is not one
MAX_DEPTH = 64  # real configs nest a handful of levels
MAX_VALUES = 100_000  # values after alias expansion
MAX_ALIASES = 1_000

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)
TOML_SUFFIXES = (".toml",)
SUFFIXES = YAML_SUFFIXES + JSON_SUFFIXES + TOML_SUFFIXES


class ParseError(Exception):
    """The file is not valid YAML/JSON/TOML, or goes over a limit; line/column are 1-based.
    ``nesting`` marks the depth limit, which a run's metadata reports in its own words."""

    def __init__(self, message: str, line: int = 1, column: int = 1, *, nesting: bool = False):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.nesting = nesting


class Skipped(Exception):
    """The file is not something to check (binary, too large); the message says why, and
    ``reason`` says it without the "skipped:" of ``check``'s report."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


@dataclass(frozen=True)
class Document:
    """A parsed file: ``roots`` holds one value per document (YAML may hold several)."""

    roots: tuple[Any, ...]
    positions: Mapping[tuple, tuple[int, int]]
    lines: tuple[str, ...] = ()
    has_comments: bool = True
    kind: str = "yaml"
    extras: Mapping[str, Any] = field(default_factory=dict)
    # Where a value that is not written at its own key came from: a YAML merge key's source
    # entry (file None: this file) or a Hydra parent config, as (file, line).
    origins: Mapping[tuple, tuple[str | None, int]] = field(default_factory=dict)

    def where(self, path: tuple) -> tuple[int, int]:
        """Line and column of the key at ``path``, else of its nearest written ancestor."""
        for end in range(len(path), 0, -1):
            found = self.positions.get(tuple(path[:end]))
            if found is not None:
                return found
        return (1, 1)


# Pseudo-filesystems: a file there may block (/proc/kmsg), never end (/dev/zero), or read as
# something other than stored bytes (/proc/self/mem), and stat calls most of them regular
# files of size 0. A path that leads into one is never opened for its content.
SYSTEM_DIRECTORIES = ("/proc", "/sys", "/dev")


class NotAFile(OSError):
    """What ``open_regular`` will not read: not a regular file, or a file in a system directory."""

    def __init__(self, reason: str):
        super().__init__(errno.EINVAL, reason)


def system_location(path: str | os.PathLike) -> str | None:
    """Why ``path`` (through any links) is in /proc, /sys or /dev, e.g. "/proc/kmsg is in /proc,
    a system directory"; None when it is not."""
    target = os.path.realpath(path)
    for top in SYSTEM_DIRECTORIES:
        if target == top or target.startswith(top + os.sep):
            return f"{target} is in {top}, a system directory"
    return None


def _system_devices() -> set[int]:
    """The devices of the system directories that are file systems of their own (procfs, sysfs,
    devtmpfs), so a bind mount of /proc elsewhere is known by its device, not its path."""
    try:
        root = os.stat("/").st_dev
    except OSError:
        return set()
    devices = set()
    for top in SYSTEM_DIRECTORIES:
        try:
            devices.add(os.stat(top).st_dev)
        except OSError:
            continue
    return devices - {root}


def open_regular(path: str | os.PathLike) -> int:
    """A read-only descriptor of ``path`` when it is a regular file outside the system
    directories; raises NotAFile (an OSError) otherwise, and OSError when it cannot be opened.

    Opened without blocking and checked on the open file, not the name: a FIFO named like a
    log would block a plain open forever, and a link may change between a check and the open."""
    where = system_location(path)
    if where is not None:
        raise NotAFile(where)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotAFile("not a regular file")
        if info.st_dev in _system_devices():
            raise NotAFile(f"{os.path.realpath(path)} is on a system file system (/proc, /sys or /dev)")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_text(path: Path) -> str:
    """The file's text; Skipped when it is not a regular file (or is in /proc, /sys, /dev),
    too large, binary or not UTF-8. At most MAX_BYTES + 1 bytes are ever read."""
    try:
        fd = open_regular(path)
    except NotAFile as refused:
        raise Skipped(f"skipped: {refused.strerror}", refused.strerror) from None
    except OSError as exc:
        raise Skipped(f"cannot read: {exc.strerror or exc}", str(exc.strerror or exc)) from None
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(fd).st_size
        if size > MAX_BYTES:
            over = f"{size:,} bytes is over the {MAX_BYTES:,}-byte limit"
            raise Skipped(f"skipped: {over} for a config file", over)
        try:
            data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise Skipped(f"cannot read: {exc.strerror or exc}", str(exc.strerror or exc)) from None
    if len(data) > MAX_BYTES:  # grew while it was read
        over = f"{len(data):,} bytes is over the {MAX_BYTES:,}-byte limit"
        raise Skipped(f"skipped: over the {MAX_BYTES:,}-byte limit for a config file", over)
    if b"\0" in data[:8192]:
        raise Skipped("skipped: binary file", "binary file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Skipped("skipped: not UTF-8 text", "not UTF-8 text") from None
    return text.removeprefix("\ufeff")


def load(path: Path, text: str) -> Document:
    """Parse ``text`` by the file's suffix."""
    suffix = path.suffix.lower()
    if suffix in JSON_SUFFIXES:
        return load_json(text)
    if suffix in TOML_SUFFIXES:
        return load_toml(text)
    from lrdoctor.configs.yaml_reader import load_yaml  # here: ruamel is loaded only for a YAML file

    return load_yaml(text)


# --- JSON ----------------------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_LITERALS = {"true": True, "false": False, "null": None, "NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


_LONG_INTEGER = re.compile(r"\d{4301,}")


def _long_integer(text: str) -> ParseError:
    """Python refuses to convert integers of more than 4300 digits (a guard against
    quadratic-time conversion); no config needs one, so the file does not parse."""
    found = _LONG_INTEGER.search(text)
    offset = found.start() if found else 0
    line = text.count("\n", 0, offset) + 1
    return ParseError("a number with more than 4300 digits", line, offset - text.rfind("\n", 0, offset))


def load_json(text: str) -> Document:
    try:
        json.loads(text)  # the standard parser's verdict and error position
    except json.JSONDecodeError as exc:
        plain = without_comments(text)
        if plain == text:
            raise ParseError(exc.msg, exc.lineno, exc.colno) from None
        try:  # JSON with comments (VS Code's settings.json, tsconfig): read as the JSON it holds
            json.loads(plain)
        except (json.JSONDecodeError, ValueError, RecursionError):
            raise ParseError(exc.msg, exc.lineno, exc.colno) from None
        text = plain
    except ValueError:
        raise _long_integer(text) from None
    except RecursionError:
        raise ParseError(f"nesting deeper than {MAX_DEPTH} levels", nesting=True) from None
    scanner = _JsonScanner(text)
    root = scanner.value(0, (0,), 0)[0]
    return Document((root,), scanner.positions, tuple(text.splitlines()), False, "json")


_JSONC_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/|,(?=\s*[}\]])', re.DOTALL)


def without_comments(text: str) -> str:
    """``//`` and ``/* */`` comments, and then trailing commas, blanked out, strings kept, every
    other character where it was: positions in the result are positions in the file. Text
    without comments comes back as it is: plain JSON with a trailing comma stays an error."""
    comments = [0]

    def blank(match: re.Match[str]) -> str:
        token = match.group()
        if token.startswith('"'):
            return token
        comments[0] += token.startswith("/")
        return re.sub(r"[^\n]", " ", token)

    plain = _JSONC_TOKEN.sub(blank, text)
    return plain if comments[0] else text


class _JsonScanner:
    """Re-reads text the standard parser accepted, noting where each key starts."""

    def __init__(self, text: str):
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.positions: dict[tuple, tuple[int, int]] = {}

    def at(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def skip(self, index: int) -> int:
        return _WHITESPACE.match(self.text, index).end()

    def value(self, index: int, path: tuple, depth: int) -> tuple[Any, int]:
        if depth > MAX_DEPTH:
            raise ParseError(f"nesting deeper than {MAX_DEPTH} levels", *self.at(index), nesting=True)
        index = self.skip(index)
        char = self.text[index]
        if char == "{":
            return self.object(index + 1, path, depth)
        if char == "[":
            return self.array(index + 1, path, depth)
        if char == '"':
            return json.decoder.scanstring(self.text, index + 1)
        for literal, value in _LITERALS.items():
            if self.text.startswith(literal, index):
                return value, index + len(literal)
        match = _NUMBER.match(self.text, index)
        number = match.group(0)
        value = float(number) if match.group(1) or match.group(2) else int(number)
        return value, match.end()

    def object(self, index: int, path: tuple, depth: int) -> tuple[dict, int]:
        result: dict[str, Any] = {}
        index = self.skip(index)
        if self.text[index] == "}":
            return result, index + 1
        while True:
            index = self.skip(index)
            key_at = index
            key, index = json.decoder.scanstring(self.text, index + 1)
            self.positions[path + (key,)] = self.at(key_at)
            index = self.skip(index) + 1  # the colon
            result[key], index = self.value(index, path + (key,), depth + 1)
            index = self.skip(index)
            if self.text[index] == "}":
                return result, index + 1
            index += 1  # the comma

    def array(self, index: int, path: tuple, depth: int) -> tuple[list, int]:
        result: list[Any] = []
        index = self.skip(index)
        if self.text[index] == "]":
            return result, index + 1
        while True:
            index = self.skip(index)
            self.positions[path + (len(result),)] = self.at(index)
            item, index = self.value(index, path + (len(result),), depth + 1)
            result.append(item)
            index = self.skip(index)
            if self.text[index] == "]":
                return result, index + 1
            index += 1


# --- TOML ----------------------------------------------------------------------

_TOML_ERROR_AT = re.compile(r"\(at line (\d+), column (\d+)\)")
_BARE_KEY = r"[A-Za-z0-9_-]+"
_QUOTED_KEY = r"\"(?:[^\"\\]|\\.)*\"|'[^']*'"
_KEY_PART = rf"(?:{_BARE_KEY}|{_QUOTED_KEY})"
_DOTTED_KEY = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_TOML_HEADER = re.compile(rf"^\s*(\[\[|\[)\s*({_DOTTED_KEY})\s*\]\]?")
_TOML_KEY = re.compile(rf"^\s*({_DOTTED_KEY})\s*=")


def load_toml(text: str) -> Document:
    import tomllib  # here: only a TOML file pays for it

    if "\r" in text and "\n" not in text:  # tomllib's own error would point at a wrong place
        raise ParseError("CR-only line endings: TOML lines end in LF or CRLF", 1, text.index("\r") + 1)
    try:
        root = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_ERROR_AT.search(message)
        line, column = (int(found.group(1)), int(found.group(2))) if found else (1, 1)
        raise ParseError(_TOML_ERROR_AT.sub("", message).strip(), line, column) from None
    except ValueError:
        raise _long_integer(text) from None
    except RecursionError:
        raise ParseError(f"nesting deeper than {MAX_DEPTH} levels", nesting=True) from None
    if _depth(root) > MAX_DEPTH:
        raise ParseError(f"nesting deeper than {MAX_DEPTH} levels", nesting=True)
    lines = tuple(text.splitlines())
    return Document((root,), _toml_positions(lines), lines, True, "toml")


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def _split_key(dotted: str) -> tuple[str, ...]:
    parts = re.findall(_KEY_PART, dotted)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _toml_positions(lines: tuple[str, ...]) -> dict[tuple, tuple[int, int]]:
    """Where each table header and ``key =`` line is; keys inside inline tables fall back to
    their table's key. Lines inside multi-line strings are not read as keys."""
    positions: dict[tuple, tuple[int, int]] = {}
    table: tuple = ()
    array_counts: dict[tuple, int] = {}
    in_string: str | None = None
    for number, line in enumerate(lines, start=1):
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = _TOML_HEADER.match(line)
        if header:
            keys = _split_key(header.group(2))
            if header.group(1) == "[[":
                index = array_counts.get(keys, -1) + 1
                array_counts[keys] = index
                table = keys + (index,)
            else:
                table = keys
            positions.setdefault((0,) + table, (number, header.start(2) + 1))
            continue
        key = _TOML_KEY.match(line)
        if key:
            keys = table + _split_key(key.group(1))
            for end in range(len(table) + 1, len(keys) + 1):  # a.b = 1 also writes table a
                positions.setdefault((0,) + keys[:end], (number, key.start(1) + 1))
            rest = line[key.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_string = quote
    return positions
