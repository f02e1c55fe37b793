"""The words lrdoctor prints: untrusted text made safe to show, and numbers as people read them.

Every string that came from a file, a directory name or a config passes through
``display`` before it is printed; steps and learning rates are formatted here so
every output spells them alike.
"""

from __future__ import annotations

import re

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
