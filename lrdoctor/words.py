"""The words lrdoctor prints: untrusted text made safe to show, numbers, metrics and architectures.

Every string that came from a file, a directory name, a tag or a config value is
chosen by whoever made it -- in CI, by a pull request. It is escaped where it is
printed, by the function of the format it is printed in, and each of those builds
on ``display``: ``display`` itself for the terminal and text outputs, ``markdown``,
``workflow_data`` and ``workflow_property`` (GitHub annotations), ``figure_text``
(matplotlib). JSON needs none: ``json.dumps`` escapes, and machine output keeps
the exact values. Steps, learning rates, metric names and the phrasing of an
architecture live here too, so every rule and output spells them alike.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lrdoctor.model import Architecture, Run

_NOT_PLAIN_ASCII = re.compile("[^\x20-\x7e]")
# Control characters (C0, DEL, C1), line and paragraph separators, and format characters:
# bidi overrides and isolates (U+202A-U+202E, U+2066-U+2069), zero-width characters
# (U+200B-U+200D, U+2060, U+FEFF), invisible tags. Each moves or hides what is shown.
_UNSHOWN = frozenset({"Cc", "Cf", "Zl", "Zp"})
_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*[]|"} | {"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# An underscore inside a word (snake_case) never emphasises in CommonMark: only the others are escaped.
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")


def display(text: str) -> str:
    """Untrusted text as one line of what it says: bytes that are not UTF-8 shown as
    U+FFFD, control, bidi and zero-width characters escaped (``\\n``, ``\\x1b``,
    ``\\u202e``). A name is chosen by whoever made the file -- in CI, by a pull request
    -- and must not start a line of its own (a fake error, a GitHub ``::command::``),
    send escape sequences to a terminal or show other text than it holds. A backslash
    is kept as it is, so escaping twice changes nothing: a name escaped when it was
    read passes the output's escaping unchanged."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _NOT_PLAIN_ASCII.sub(_shown, text)


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    if unicodedata.category(char) not in _UNSHOWN:
        return char
    return char.encode("unicode_escape").decode("ascii")


def markdown(text: str) -> str:
    """Untrusted text for Markdown, in a paragraph or a table cell: rendered as written,
    never as HTML, a link, emphasis, a code span or a new table cell."""
    return _EMPHASIS_UNDERSCORE.sub(r"\\_", display(text).translate(_MARKDOWN))


def workflow_data(text: str) -> str:
    """Untrusted text as the message of a GitHub workflow command (``::error ...::message``):
    one printable line, so nothing it holds can start a line (``::error file=...::``) of
    its own, in GitHub's escaping (the Actions toolkit's: %, CR, LF; after ``display``
    only the % is left to escape, the other two are kept so this is GitHub's whole)."""
    return display(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow_property(text: str) -> str:
    """Untrusted text as a property of a GitHub workflow command (``file=``, ``title=``),
    where a colon or a comma would end the value."""
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")


def figure_text(text: str) -> str:
    """Untrusted text for a matplotlib label: one line, and a ``$`` is a dollar sign,
    never the start of mathtext (an unknown ``\\command`` there ends the drawing)."""
    return display(text).replace("$", "\\$")


SIGNIFICANT = 3  # digits of every number a person reads; JSON keeps the exact values


def number(value: float) -> str:
    """A measured value as every output shows it, to 3 significant digits: 0.0334, 0.0673,
    1.44, 236, 23600; ``nan`` and ``inf`` as such. The text, Markdown, the figures and the
    views derived from JSON all print through here, so they agree to the digit."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    rounded = float(f"{value:.{SIGNIFICANT}g}")
    if 1e3 <= abs(rounded) < 1e6:  # 23600, not 2.36e+04
        return f"{rounded:.0f}"
    return f"{rounded:.{SIGNIFICANT}g}"


def format_steps(steps: float) -> str:
    """A step count to 3 significant digits: 500K, 1.9M, 23.6K, 20M, 1.2B. Rounded before its
    unit is chosen, so 999,999 reads 1M, not 1e+03K."""
    if not math.isfinite(steps):
        return str(steps)
    rounded = float(f"{steps:.{SIGNIFICANT}g}")
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(rounded) >= scale:
            return f"{rounded / scale:.{SIGNIFICANT}g}{suffix}"
    return f"{rounded:.{SIGNIFICANT}g}"


def format_lr(lr: float) -> str:
    """Render a learning rate in the form papers use: 3e-04, 1.5e-05."""
    mantissa, exponent = f"{lr:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"


def steps(value: float | None) -> str:
    return "?" if value is None else format_steps(value)


def lr_text(value: float | None) -> str:
    return "?" if value is None else format_lr(value)


METRIC_NAMES = {
    "lr": "LR",
    "kl": "approx KL",
    "entropy": "entropy",
    "clip_fraction": "clip fraction",
    "value_loss": "value loss",
    "policy_loss": "policy loss",
    "explained_variance": "explained variance",
    "episode_return": "episode return",
    "success_rate": "success rate",
}


def metric_label(run: Run, metric: str) -> str:
    """The metric with its tag, e.g. "approx KL (k3, train/approx_kl)", as reports name it."""
    source = run.sources.get(metric)
    name = METRIC_NAMES.get(metric, metric)
    if source is None:
        return name
    details = [d for d in (source.estimator if metric == "kl" else None, source.tag) if d]
    if source.negated:
        details.append("negated")
    return f"{name} ({', '.join(details)})"


def kind_word(kind: str) -> str:
    """An architecture kind as a sentence names it: GRU, LSTM, RNN, MLP, CNN, attention, mamba."""
    return kind.upper() if kind in ("gru", "lstm", "rnn", "mlp", "cnn") else kind


def own_name(kind: str, name: str | None) -> str | None:
    """The run's own name for its architecture ("graph_free"), when it says more than the kind."""
    return name if name and name.lower() != kind else None


def describe_architecture(run: Run) -> str:
    """E.g. "recurrent GRU policy "graph_free" (architecture from config.json: model.arch)"."""
    arch = run.architecture
    recurrent = "recurrent " if arch.recurrent else ""
    named = f' "{own_name(arch.kind, arch.name)}"' if own_name(arch.kind, arch.name) else ""
    return f"{recurrent}{kind_word(arch.kind)} policy{named} (architecture from {arch.source})"


def short_architecture(run: Run) -> str:
    """E.g. "recurrent GRU (graph_free, from config.json)"."""
    arch = run.architecture
    details = [d for d in (own_name(arch.kind, arch.name), f"from {arch.source}") if d]
    return f"recurrent {kind_word(arch.kind)} ({', '.join(details)})"


def config_architecture(kind: str, name: str | None, key: str, declared: bool) -> str:
    """A config unit's architecture, e.g. 'the recurrent GRU policy "graph_free" (model.recurrent.cell)'."""
    named = f' "{own_name(kind, name)}"' if own_name(kind, name) else ""
    return f"the recurrent {kind_word(kind)} policy{named} ({key}{'' if declared else ', by default'})"


def architecture_label(arch: Architecture) -> str:
    """"gru (graph_free)": the kind, and the run's own name for it when that differs."""
    name = own_name(arch.kind, arch.name)
    return f"{arch.kind} ({name})" if name else arch.kind


# What a missing metric is, in an LRD010 message.
MISSING_METRIC_WORDS = {
    "lr": "learning rate (an LR that is not logged is never assumed constant)",
    "kl": "KL",
    "entropy": "entropy",
    "clip_fraction": "clip fraction",
    "value_loss": "value loss",
    "explained_variance": "explained variance",
    "episode_return": "episode return",
    "success_rate": "success rate",
}
