"""Units as people write and read them: step counts (``20M``, ``500K``, ``2e7``), learning rates, numbers in configs."""

import math
from typing import Any

from lrdoctor.errors import InputError

_SUFFIXES = {"K": 1e3, "M": 1e6, "G": 1e9, "B": 1e9}


def parse_steps(text: str) -> int:
    """Parse a human step count into a positive integer number of steps."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    multiplier = 1.0
    if cleaned and cleaned[-1].upper() in _SUFFIXES:
        multiplier = _SUFFIXES[cleaned[-1].upper()]
        cleaned = cleaned[:-1]
    try:
        value = float(cleaned) * multiplier
    except ValueError:
        raise InputError(f"not a step count: {text!r} (expected e.g. 20M, 500K, 2e7)") from None
    if not math.isfinite(value) or value <= 0 or value != round(value):
        raise InputError(f"not a positive whole number of steps: {text!r}")
    return int(round(value))


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


def as_float(value: Any) -> float | None:
    """Numbers as configs write them: 3e-4, "3e-4" (YAML 1.1 reads that as text), "!!float"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace("_", ""))
        except ValueError:
            return None
    return None
