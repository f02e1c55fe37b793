"""The words lrdoctor prints: untrusted text made safe to show, numbers, metrics and architectures.

Every string that came from a file, a directory name or a config passes through
``display`` before it is printed; steps, learning rates, metric names and the
phrasing of an architecture live here, so every rule and output spells them alike.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lrdoctor.model import Architecture, Run

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def display(text: str) -> str:
    """A file name as one line of printable text: bytes that are not UTF-8 shown as
    U+FFFD, control characters escaped (``\\n``, ``\\x1b``). A name is chosen by whoever
    made the file -- in CI, by a pull request -- and must not start a line of its own
    (a fake error, a GitHub ``::command::``) or send escape sequences to a terminal."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


def format_steps(steps: float) -> str:
    """Render a step count compactly: 500K, 2.5M, 20M, 1.2B."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(steps) >= scale:
            return f"{steps / scale:.4g}{suffix}"
    return f"{steps:.4g}"


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
    return f"{arch.kind} ({display(name)})" if name else arch.kind  # a config's value: escaped like a file name


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
