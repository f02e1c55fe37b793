"""What `lrdoctor rules [RULE]` shows: every rule at a glance, or one rule's documentation,
as rich objects for the terminal.

The text comes from the rule modules themselves (their docstring, defaults and
options), so what this prints never drifts from what the rules do.
"""

import inspect
import re
from types import ModuleType
from typing import Any

from rich.table import Table
from rich.text import Text

from lrdoctor import rules as registry
from lrdoctor.rules.common import Follow
from lrdoctor.rules.options import followed, limits_text

SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


# Below this width the table's columns would squeeze codes and slugs: the rules are listed instead.
TABLE_WIDTH = 110


def rule_table() -> list[Table]:
    table = Table(title="lrdoctor rules", title_justify="left", show_lines=True)
    # Codes, slugs and option names are looked up and copied: never break them mid-word.
    for header in ("code", "slug", "severity", "scope"):
        table.add_column(header, no_wrap=True)
    table.add_column("options (defaults)", no_wrap=True)
    table.add_column("what it flags", overflow="fold", min_width=20)
    for module in registry.RULES.values():
        table.add_row(
            Text(module.CODE, style="bold"),
            Text(module.SLUG),
            severity_text(module),
            Text(module.SCOPE),
            Text("\n".join(f"{name} = {value_text(value)}" for name, value in module.OPTIONS.items()) or "—"),
            Text(summary(module)),
        )
    return [table]


def rule_list() -> list[Text]:
    """The rules for a narrow terminal or a pipe: a heading line each (code and slug whole),
    then what it flags and its options, wrapped at the width like any paragraph."""
    parts: list[Text] = [Text("lrdoctor rules", style="bold")]
    for module in registry.RULES.values():
        heading = Text.assemble(
            (module.CODE, "bold"), " ", module.SLUG, "  ", severity_text(module), f" · {module.SCOPE}"
        )
        parts += [Text(""), heading, Text("  " + summary(module))]
        parts += [Text(f"    {name} = {value_text(value)}", style="dim") for name, value in module.OPTIONS.items()]
    return parts


def rule_help(module: ModuleType) -> list[Any]:
    """The rule's own documentation, then its defaults as a table."""
    header = Text.assemble((f"{module.CODE} {module.SLUG}", "bold"), "  default severity ", severity_text(module))
    header.append(f"  scope {module.SCOPE}")
    body = inspect.cleandoc(module.__doc__ or "").partition("\n")[2]
    parts: list[Any] = [header, Text(""), Text(summary(module)), Text(""), *doc_text(body)]
    if module.OPTIONS:
        options = Table(title="options", title_justify="left")
        options.add_column("option")
        options.add_column("default")
        options.add_column("allowed")
        options.add_column("set with")
        for name, value in module.OPTIONS.items():
            limits = followed(module.CODE, name)[1]
            options.add_row(
                Text(name), Text(value_text(value)), Text(limits_text(limits)), Text(f"--set {module.SLUG}.{name}=…")
            )
        parts += [Text(""), options]
    return parts


_LITERAL = re.compile(r"``(.+?)``")


def doc_text(doc: str) -> list[Any]:
    """A rule's docstring (reStructuredText, as its module is written) as a terminal shows
    prose: paragraphs and list items re-wrapped at the width, ````name```` as a bold name,
    ``Example::`` blocks kept line for line."""
    parts: list[Any] = []
    paragraph: list[str] = []
    literal = False

    def flush() -> None:
        if paragraph:
            parts.append(prose(" ".join(paragraph)))
            paragraph.clear()

    for line in inspect.cleandoc(doc).splitlines():
        if literal and (not line.strip() or line[:1].isspace()):
            parts.append(Text(line, style="cyan", no_wrap=True))
            continue
        literal = False
        stripped = line.strip()
        if not stripped:
            flush()
            parts.append(Text(""))
            continue
        item = paragraph[:1] and paragraph[0].startswith("- ")
        continues = paragraph and not stripped.startswith("- ") and (line[:1].isspace() or not item)
        if not continues:
            flush()
        paragraph.append(stripped)
        if stripped.endswith("::"):
            paragraph[-1] = stripped[:-1]
            flush()
            literal = True
    flush()
    while parts and isinstance(parts[-1], Text) and not parts[-1].plain.strip():
        parts.pop()
    return [part for i, part in enumerate(parts) if not (i and _blank(part) and _blank(parts[i - 1]))]


def _blank(part: Any) -> bool:
    return isinstance(part, Text) and not part.plain.strip()


def prose(paragraph: str) -> Any:
    """One paragraph, its ````literals```` in bold; a list item with a hanging indent."""
    item = paragraph.startswith("- ")
    text = Text()
    for index, piece in enumerate(_LITERAL.split(paragraph[2:] if item else paragraph)):
        text.append(piece, style="bold" if index % 2 else "")
    if not item:
        return text
    grid = Table.grid()
    grid.add_column(width=2)
    grid.add_column()
    grid.add_row(Text("-"), text)
    return grid


def summary(module: ModuleType) -> str:
    """The first line of the docstring without its "LRD001 kl-exceeded:" prefix."""
    first = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
    prefix = f"{module.CODE} {module.SLUG}:"
    return first[len(prefix):].strip() if first.startswith(prefix) else first


def severity_text(module: ModuleType) -> Text:
    level = module.SEVERITY.value
    return Text(level, style=SEVERITY_STYLE.get(level, ""))


def value_text(value: Any) -> str:
    if isinstance(value, Follow):
        return f"as {registry.RULES[value.code].SLUG}.{value.option}"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "(none)"
    return str(value)
