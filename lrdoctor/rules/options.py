"""Options for the rules: which run, how severe, with which thresholds, and when to fail.

Resolved in one place, in this order (later wins):

1. the defaults of each rule (its ``OPTIONS`` and ``SEVERITY``);
2. one configuration file, found by walking up from the working directory: in
   each directory ``lrdoctor.toml`` is looked for first, then ``pyproject.toml``
   with a ``[tool.lrdoctor]`` table (a pyproject.toml without one is passed
   over); the first file found is the only one read;
3. the command line (``--select``, ``--ignore``, ``--set RULE.OPTION=VALUE``,
   ``--fail-on``, severity overrides).

File format (``lrdoctor.toml`` takes the same keys at its top level, or under
``[tool.lrdoctor]``)::

    [tool.lrdoctor]
    fail-on = "warning"               # error | warning | never
    select = ["LRD"]                  # codes, slugs or code prefixes
    ignore = ["entropy-collapse"]
    allow = ["configs/legacy.yml"]    # units `lrdoctor check` lets pass
    [tool.lrdoctor.rules.kl-exceeded] # a rule's code or slug
    threshold = 0.03
    severity = "warning"

Selection: the command line's ``--select`` replaces the file's; ``ignore`` from
both is removed from it, except that a rule the command line selects by name is
not removed by the file's ``ignore``. Unknown keys, rules or rule options, and
values of the wrong type, are input errors naming the file and the key.
"""

from __future__ import annotations

import math
import operator
import reprlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from lrdoctor import rules
from lrdoctor.errors import InputError
from lrdoctor.model import Severity
from lrdoctor.rules.common import Follow

FAIL_ON = ("error", "warning", "never")
_FILE_KEYS = ("fail-on", "select", "ignore", "allow", "rules")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
# The bounds a rule's LIMITS may give an option, by the words that say them.
BOUNDS = {"more_than": operator.gt, "at_least": operator.ge, "at_most": operator.le, "less_than": operator.lt}
# TOML's integers are 64-bit (its spec makes a larger one an error, which tomllib does not
# raise); every whole-number option is held to that, so a window never overflows a float.
_WHOLE_LIMIT = 2**63


@dataclass(frozen=True)
class Options:
    """Everything the engine and ``check`` need to know about the user's wishes, resolved."""

    select: frozenset[str] = field(default_factory=lambda: frozenset(rules.RULES))
    severities: Mapping[str, Severity] = field(
        default_factory=lambda: MappingProxyType({code: m.SEVERITY for code, m in rules.RULES.items()})
    )
    rule_options: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: resolved({code: dict(m.OPTIONS) for code, m in rules.RULES.items()})
    )
    fail_on: str = "error"
    allow: tuple[str, ...] = ()
    source: str | None = None
    # Rules whose severity the user set: it then wins over a rule's own grading.
    severity_overridden: frozenset[str] = frozenset()

    @cached_property
    def judging_text(self) -> str:
        """Everything in these options that a run's findings depend on, as text: part of the key
        its cached findings are kept under. Made once per Options (a sweep judges every run under
        one), not once per run; ``fail_on`` judges no run."""
        return repr((
            sorted(self.select),
            sorted((code, severity.value) for code, severity in self.severities.items()),
            sorted((code, sorted(values.items())) for code, values in self.rule_options.items()),
            sorted(self.severity_overridden),
        ))

    def __reduce__(self):
        """Pickled as plain dicts (a mappingproxy cannot be), read-only again when unpickled: the
        options go with each run to the worker that reads and judges it."""
        rule_options = {code: dict(values) for code, values in self.rule_options.items()}
        return _unpickled_options, (self.select, dict(self.severities), rule_options, self.fail_on, self.allow,
                                    self.source, self.severity_overridden)


def _unpickled_options(select, severities, rule_options, fail_on, allow, source, severity_overridden) -> Options:
    return Options(select, MappingProxyType(severities), _read_only(rule_options), fail_on, allow, source,
                   severity_overridden)


def _read_only(rule_options: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Mapping[str, Any]]:
    return MappingProxyType({code: MappingProxyType(dict(values)) for code, values in rule_options.items()})


def default_options() -> Options:
    """The built-in defaults, without reading any file."""
    return Options()


def find_config(cwd: Path) -> tuple[Path, Mapping[str, Any]] | None:
    """The first lrdoctor configuration walking up from ``cwd``, and its lrdoctor table."""
    for directory in (cwd, *cwd.parents):
        own = directory / "lrdoctor.toml"
        if own.is_file():
            data = _read_toml(own)
            nested = data.get("tool", {}).get("lrdoctor") if isinstance(data.get("tool"), dict) else None
            if nested is not None and set(data) == {"tool"}:
                return own, nested
            return own, data
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            data = _read_toml(pyproject)
            table = data.get("tool", {}).get("lrdoctor") if isinstance(data.get("tool"), dict) else None
            if table is not None:
                return pyproject, table
    return None


def load_options(
    *,
    cwd: Path | None = None,
    config: Path | None = None,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    rule_settings: Mapping[str, Any] | None = None,
    fail_on: str | None = None,
    severity_overrides: Mapping[str, Any] | None = None,
) -> Options:
    """Defaults, then the configuration file (``config``, else the one found from ``cwd``), then the CLI.

    ``rule_settings`` are ``{"kl-exceeded.threshold": "0.03"}`` as typed on the
    command line; strings are converted to the type of the option's default.
    """
    if config is not None:
        if not config.is_file():
            raise InputError(f"{config}: configuration file not found")
        data = _read_toml(config)
        tool = data.get("tool")
        table = tool["lrdoctor"] if isinstance(tool, dict) and "lrdoctor" in tool else data
        found: tuple[Path, Mapping[str, Any]] | None = (config, table)
    else:
        found = find_config(cwd if cwd is not None else Path.cwd())

    file_table: Mapping[str, Any] = {}
    source = None
    if found is not None:
        path, file_table = found
        source = str(path)
        if not isinstance(file_table, Mapping):
            raise InputError(f"{source}: [tool.lrdoctor] must be a table")
        unknown = sorted(set(file_table) - set(_FILE_KEYS))
        if unknown:
            raise InputError(f"{source}: unknown key {unknown[0]!r} (known: {', '.join(_FILE_KEYS)})")

    where = source or ""
    file_select = _names(file_table, "select", where)
    file_ignore = _names(file_table, "ignore", where)
    cli_select = _cli_codes(select, "--select")
    cli_ignore = _cli_codes(ignore, "--ignore")
    enabled = set(cli_select if cli_select is not None else file_select if file_select is not None else rules.RULES)
    enabled -= (file_ignore or set()) - (cli_select or set())
    enabled -= cli_ignore or set()

    severities = {code: m.SEVERITY for code, m in rules.RULES.items()}
    overridden: set[str] = set()
    options = {code: dict(m.OPTIONS) for code, m in rules.RULES.items()}

    rule_tables = file_table.get("rules", {})
    if not isinstance(rule_tables, Mapping):
        raise InputError(f"{where}: 'rules' must be a table of rule tables")
    for name, settings in rule_tables.items():
        key = f"rules.{name}"
        code = _code(name, f"{where}: {key}")
        if not isinstance(settings, Mapping):
            raise InputError(f"{where}: {key} must be a table of options")
        for option, value in settings.items():
            _apply(code, option, value, options, severities, overridden, f"{where}: {key}.{option}", typed=True)

    for dotted, value in (rule_settings or {}).items():
        rule_name, sep, option = str(dotted).partition(".")
        if not sep or not option:
            raise InputError(f"--set {dotted}: expected RULE.OPTION=VALUE, e.g. kl-exceeded.threshold=0.03")
        code = _code(rule_name, f"--set {dotted}")
        _apply(code, option, value, options, severities, overridden, f"--set {dotted}", typed=False)

    for name, level in (severity_overrides or {}).items():
        code = _code(name, f"severity for {name}")
        severities[code] = _severity(level, f"severity for {name}")
        overridden.add(code)

    resolved_fail_on = fail_on if fail_on is not None else file_table.get("fail-on", "error")
    if resolved_fail_on not in FAIL_ON:
        origin = "--fail-on" if fail_on is not None else f"{where}: fail-on"
        raise InputError(f"{origin}: expected one of {', '.join(FAIL_ON)}, got {resolved_fail_on!r}")

    allow = file_table.get("allow", [])
    if not (isinstance(allow, list) and all(isinstance(a, str) for a in allow)):
        raise InputError(f"{where}: allow must be a list of strings")

    return Options(
        select=frozenset(enabled),
        severities=MappingProxyType(severities),
        rule_options=resolved(options),
        fail_on=resolved_fail_on,
        allow=tuple(allow),
        source=source,
        severity_overridden=frozenset(overridden),
    )


def resolved(options: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Mapping[str, Any]]:
    """Every rule's options, read-only, with each option that follows another rule's
    (``Follow``) given that rule's value as the user left it."""
    def value(code: str, name: str) -> Any:
        found = options[code][name]
        return value(found.code, found.option) if isinstance(found, Follow) else found

    return MappingProxyType(
        {code: MappingProxyType({name: value(code, name) for name in opts}) for code, opts in options.items()}
    )


def followed(code: str, name: str) -> tuple[Any, Mapping[str, float] | None]:
    """The default and the bounds an option takes, those of the rule option it follows if it follows one."""
    module = rules.RULES[code]
    default = module.OPTIONS[name]
    if isinstance(default, Follow):
        return followed(default.code, default.option)
    return default, getattr(module, "LIMITS", {}).get(name)


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # here: only a project with a config file pays for it

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


def _names(table: Mapping[str, Any], key: str, where: str) -> set[str] | None:
    if key not in table:
        return None
    value = table[key]
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise InputError(f"{where}: {key} must be a list of rule codes, slugs or prefixes")
    try:
        return rules.resolve(value)
    except InputError as exc:
        raise InputError(f"{where}: {key}: {exc}") from None


def _cli_codes(names: Iterable[str] | None, flag: str) -> set[str] | None:
    if names is None:
        return None
    # "--select LRD001,LRD002" and repeated flags both work.
    split = [part for name in names for part in str(name).split(",") if part.strip()]
    try:
        return rules.resolve(split)
    except InputError as exc:
        raise InputError(f"{flag}: {exc}") from None


def _code(name: str, where: str) -> str:
    try:
        return rules.get(str(name)).CODE
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def _severity(value: Any, where: str) -> Severity:
    try:
        return Severity(str(value.value if isinstance(value, Severity) else value).lower())
    except ValueError:
        raise InputError(f"{where}: expected info, warning or error, got {value!r}") from None


def _apply(code, option, value, options, severities, overridden, where, *, typed: bool) -> None:
    """Set one rule option (or its severity), converting or checking the type against the default."""
    if option == "severity":
        severities[code] = _severity(value, where)
        overridden.add(code)
        return
    name = option.replace("-", "_")
    defaults = rules.RULES[code].OPTIONS
    if name not in defaults:
        known = ", ".join(["severity", *defaults]) or "severity"
        raise InputError(f"{where}: unknown option for {code} {rules.RULES[code].SLUG} (known: {known})")
    default, limits = followed(code, name)
    value = _typed(value, default, where) if typed else _parsed(str(value), default, where)
    options[code][name] = _within(value, limits, where)


def _within(value: Any, limits: Mapping[str, float] | None, where: str) -> Any:
    """The value, when it is inside the rule's bounds for the option."""
    if limits is None or all(BOUNDS[bound](value, limit) for bound, limit in limits.items()):
        return value
    raise InputError(f"{where}: must be {limits_text(limits)}, got {value:g}")


def limits_text(limits: Mapping[str, float] | None) -> str:
    """"more than 0 and at most 1", "at least 1"; "" when any value goes."""
    return " and ".join(f"{bound.replace('_', ' ')} {limit:g}" for bound, limit in (limits or {}).items())


def _typed(value: Any, default: Any, where: str) -> Any:
    """A value from TOML must already have the default's type (an int is a fine float)."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) < _WHOLE_LIMIT
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise InputError(f"{where}: expected {_type_name(default)}, got {reprlib.repr(value)}")
    return value


def _parsed(text: str, default: Any, where: str) -> Any:
    """A value typed on the command line, converted to the default's type."""
    text = text.strip()
    if isinstance(default, bool):
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
    elif isinstance(default, (int, float)):
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            if isinstance(default, float):
                return number
            if number == int(number) and abs(number) < _WHOLE_LIMIT:
                return int(number)
    elif isinstance(default, (list, tuple)):
        return tuple(part.strip() for part in text.split(",") if part.strip())
    else:
        return text
    raise InputError(f"{where}: expected {_type_name(default)}, got {text!r}")


def _type_name(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, int):
        return "a whole number below 2^63"
    if isinstance(default, (list, tuple)):
        return "a list of strings"
    return "a string"
