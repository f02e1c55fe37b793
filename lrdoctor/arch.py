"""Naming architectures: which names mean a recurrent policy, and of which kind.

Shared by the run reader (metadata of a logged run) and ``check`` (a config in a
pull request), so both call a GRU a GRU for the same reasons.
"""

from __future__ import annotations

import re

# Checked in order, recurrent kinds first: ``CnnLstmPolicy`` is an LSTM policy.
# Distinctive words match anywhere in a name; short ones (gru, rnn, ssm, cnn, mlp)
# only as a whole token, so "grunt" or "classmate" are not read as architectures.
_KINDS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # kind, substrings, whole tokens
    ("mamba", ("mamba",), ("ssm", "s4", "s5")),
    ("attention", ("attention", "transformer", "gtrxl"), ("trxl", "gpt", "attn")),
    ("lstm", ("lstm",), ()),
    ("gru", (), ("gru",)),
    ("rnn", ("recurrent",), ("rnn", "rnns")),
    ("cnn", ("impala", "nature"), ("cnn", "conv", "convnet")),
    ("mlp", ("feedforward",), ("mlp", "dense", "ff")),
)
_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

RECURRENT_KINDS = frozenset({"gru", "lstm", "rnn", "attention", "mamba"})
KINDS = frozenset(RECURRENT_KINDS | {"mlp", "cnn"})  # every kind lrdoctor names


def kind_of(name: str) -> str | None:
    """The architecture kind a name spells (``MlpLstmPolicy`` -> lstm), or None.

    Recurrent kinds are looked for first: ``CnnLstmPolicy`` is an LSTM policy.
    """
    lowered = name.lower()
    tokens = {token.lower() for token in _TOKEN.findall(name)}
    for kind, substrings, whole_tokens in _KINDS:
        if any(s in lowered for s in substrings) or tokens.intersection(whole_tokens):
            return kind
    return None


def is_recurrent(kind: str) -> bool | None:
    """True/False for a known kind, None for "unknown"."""
    if kind == "unknown":
        return None
    return kind in RECURRENT_KINDS


# CleanRL names a run's exp_name after its script, and the script fixes the network
# (checked in cleanrl/*.py): these spell no architecture word, or spell it unreliably.
CLEANRL_SCRIPTS = {
    "ppo": "mlp",
    "ppo_continuous_action": "mlp",
    "ppo_continuous_action_isaacgym": "mlp",
    "ppo_pettingzoo_ma_atari": "cnn",
    "ppo_atari": "cnn",
    "ppo_atari_envpool": "cnn",
    "ppo_atari_multigpu": "cnn",
    "ppo_procgen": "cnn",
    "ppo_rnd_envpool": "cnn",
    "ppg_procgen": "cnn",
    "ppo_atari_lstm": "lstm",
    "ppo_atari_envpool_async_jax_scan_impalanet_machado": "cnn",
    "ppo_trxl": "attention",
}


def script_kind(exp_name: str) -> str | None:
    """The architecture a CleanRL script trains, from its exp_name (``ppo_atari_lstm`` -> lstm)."""
    return CLEANRL_SCRIPTS.get(exp_name.strip().lower()) or kind_of(exp_name)
