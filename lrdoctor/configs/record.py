"""What a training unit declares about its learning rate, in one plain record per unit.

Every format reader (formats.py) fills the same record, so the checks (judge.py)
never need to know how rl_games or the zoo spell a setting; a ``Setting`` keeps
where it was written so a finding can point at the key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from lrdoctor.configs.loaders import Document

# What the LR does over training, as far as the config says.
CONSTANT = "constant"  # never changes
NO_WARMUP = "no-warmup"  # changes, but starts at (or near) its peak: linear/cosine/step decay
WARMUP = "warmup"  # starts low and ramps up
ADAPTIVE = "adaptive"  # follows the measured KL (rl_games adaptive, Sample Factory kl_adaptive_*)
UNKNOWN = "unknown"  # a schedule lrdoctor cannot read (a custom callable, an unknown name)


# A declared schedule's name in lrdoctor's words, most telling first: "linear_warmup_cosine"
# is a warmup, "kl_adaptive_epoch" adaptive, "linear_decay" linear.
_SCHEDULE_WORDS = (
    ("warmup", ("warmup", "warm_up", "wsd", "onecycle", "one_cycle", "ramp")),
    ("adaptive", ("adaptive",)),
    ("cosine", ("cos",)),
    ("linear", ("lin",)),
    ("step", ("step", "exp", "poly", "plateau")),
    ("decay", ("decay", "anneal")),
)
_NO_SCHEDULE = frozenset({"", "constant", "const", "none", "null", "fixed", "identity", "off", "false"})
_CLASSES = {"constant": CONSTANT, "warmup": WARMUP, "adaptive": ADAPTIVE, "cosine": NO_WARMUP, "linear": NO_WARMUP,
            "step": NO_WARMUP, "decay": NO_WARMUP}


def schedule_name(text: str) -> str:
    """A schedule's name as lrdoctor says it (constant, warmup, adaptive, cosine, linear, step,
    decay), or the name itself, lowercased, when it is none of these."""
    lowered = text.strip().lower()
    if lowered in _NO_SCHEDULE:
        return "constant"
    if lowered.startswith("kl"):
        return "adaptive"
    return next((name for name, words in _SCHEDULE_WORDS if any(w in lowered for w in words)), lowered)


def schedule_class(name: str) -> str:
    """What a named schedule does to the LR: CONSTANT, WARMUP, ADAPTIVE, NO_WARMUP, or UNKNOWN."""
    return _CLASSES.get(name, UNKNOWN)


@dataclass(frozen=True)
class Setting:
    """A value and the key it came from.

    ``declared`` is False for a library default (the key is absent); line and column
    then point at the nearest key that implies it (e.g. ``policy``). ``note`` says in a
    few words why the value is what it is, for messages.
    """

    value: Any
    key: str
    line: int
    column: int
    declared: bool = True
    note: str = ""
    start_fraction: float | None = None  # for an LR list: first LR / peak LR
    origin: str = ""  # where an inherited value is written ("line 4", "AntPPO.yaml:12"); "" when here

    def but(self, **changes: Any) -> "Setting":
        return replace(self, **changes)


@dataclass(frozen=True)
class UnitRecord:
    """One unit's LR story. ``format`` names the library layout; ``dialect`` refines it
    where the fix syntax differs (RLlib's old ``lr_schedule`` vs new-stack ``lr`` list)."""

    file: str
    unit: str
    unit_line: int
    format: str
    dialect: str = ""
    architecture: Setting | None = None  # value: a kind from lrdoctor.arch (gru, lstm, ...)
    architecture_name: str | None = None
    recurrent: bool | None = None
    lr: Setting | None = None  # the base (peak) LR, a float
    schedule: Setting | None = None  # value: CONSTANT, NO_WARMUP, WARMUP, ADAPTIVE or UNKNOWN
    total_steps: Setting | None = None
    kl_threshold: Setting | None = None  # the set-point an adaptive LR schedule aims at: not a limit
    target_kl: Setting | None = None  # SB3-style early stop of the epoch loop: the run's own limit
    target_kl_applies: bool = False  # the format has a target_kl (SB3/zoo)
    # What the unit declared, as written: the schedule's name (``schedule_name`` words) and
    # warmup on or off. ``schedule`` above is the judgement these lead to, pointing at the
    # key at fault; a run's report shows these.
    schedule_name: Setting | None = None
    warmup: Setting | None = None
    # The unit's own switch for warmup, set as it should be: its list of warmed-up architectures
    # with the active one added, or its warmup flag turned on. The fix speaks of it first.
    warmup_switch: Setting | None = None
    # What could not be understood (a defaults list not composed, an interpolation not
    # resolved), each at its key, its ``note`` the reason: LRD016 reports them.
    not_understood: tuple[Setting, ...] = ()
    # What the unit calls itself, for every output: the entry's key (a zoo env id, an RLlib
    # experiment), else the name its framework gives the run (rl_games ``params.config.name``).
    name: str = ""
    algorithm: Setting | None = None  # value: the algorithm's name as written (RLlib ``run``, skrl ``agent.class``)


# Algorithms the LR rules are about: policy-gradient methods whose update is a trust-region-like
# step (PPO and its kin). Value-based and off-policy ones (DQN, R2D2, SAC, TD3) have no policy
# KL to run over in the same way: a constant LR there is not this collapse.
POLICY_GRADIENT = frozenset({"ppo", "appo", "recurrentppo", "a2c", "a3c", "impala", "trpo", "ippo", "mappo",
                             "a2c_continuous", "a2c_discrete", "rpo", "amp", "pg", "vpg", "reinforce"})
NOT_POLICY_GRADIENT = frozenset({"dqn", "r2d2", "apex", "apex_dqn", "apexdqn", "simpleq", "simple_q", "qrdqn",
                                 "rainbow", "sac", "td3", "ddpg", "cql", "crossq", "tqc", "dreamerv3", "dreamer",
                                 "bc", "marwil", "iql", "alphazero", "es", "ars", "her", "qmix"})


def policy_gradient(algorithm: Setting | None) -> bool | None:
    """True for PPO and its kin, False for a value-based or off-policy algorithm, None when unknown."""
    if algorithm is None or not isinstance(algorithm.value, str):
        return None
    name = algorithm.value.strip().lower().replace("-", "_").removesuffix("config").rsplit(".", 1)[-1]
    if name in POLICY_GRADIENT:
        return True
    if name in NOT_POLICY_GRADIENT:
        return False
    return None


class View:
    """A unit's mapping with the document's positions: ``get("a", "b")`` returns a Setting."""

    def __init__(self, document: Document, data: Mapping[str, Any], path: tuple, prefix: tuple = ()):
        self.document = document
        self.data = data
        self.path = path
        self.prefix = prefix
        self.entries: list | None = None  # every (view, key, value) below, once walked

    def get(self, *keys: Any) -> Setting | None:
        value: Any = self.data
        for key in keys:
            if not isinstance(value, Mapping) or key not in value:
                return None
            value = value[key]
        return self.setting(keys, value)

    def setting(self, keys: tuple, value: Any, **extra: Any) -> Setting:
        path = self.path + tuple(keys)
        line, column = self.document.where(path)
        found = self.document.origins.get(path)
        if found is not None and "origin" not in extra:
            extra["origin"] = f"{found[0]}:{found[1]}" if found[0] else f"line {found[1]}"
        return Setting(value, dotted(self.prefix + tuple(keys)), line, column, **extra)

    def section(self, *keys: Any) -> "View | None":
        value: Any = self.data
        for key in keys:
            if not isinstance(value, Mapping) or key not in value:
                return None
            value = value[key]
        if not isinstance(value, Mapping):
            return None
        return View(self.document, value, self.path + tuple(keys), self.prefix + tuple(keys))

    def first(self, *names: str) -> Setting | None:
        """The first of several spellings of a key present in this mapping."""
        for name in names:
            found = self.get(name)
            if found is not None:
                return found
        return None

    def here(self, **changes: Any) -> Setting:
        """A Setting that points at this mapping itself (for library defaults)."""
        return self.setting((), None).but(**changes)


def dotted(keys: tuple) -> str:
    return ".".join(f"[{k}]" if isinstance(k, int) else str(k) for k in keys) or "(top level)"


def as_bool(value: Any) -> bool | None:
    """Booleans as configs write them, including YAML 1.1's yes/no/on/off read as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0", "none", "null", ""):
            return False
    if isinstance(value, (int, float)):
        return bool(value)
    return None


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
