"""Every hyperparameter a run declares, in one flat key space, each with where it was read.

The places are those the run's metadata is read from (``metadata.py``: config files beside
and above the run through the one config reader, the hparams plugin, CleanRL's
"hyperparameters" text, which covers Tune's ``params.json`` and the zoo's ``config.yml`` /
``args.yml``), then the run's directory names (``lr=3e-4``, ``lr3e-4``, ``seed_2``,
CleanRL's ``{env}__{exp_name}__{seed}__{time}``), then what the logs show (the logged LR).
The nearest place wins, as for the architecture.

Libraries spell one setting many ways (SB3 ``clip_range``, CleanRL ``clip_coef``, RLlib
``clip_param``, rl_games ``e_clip``); ``CANONICAL`` maps each spelling to one key, so a
sweep mixing libraries or naming styles compares like with like. A key no table knows keeps
its own dotted path (``policy_kwargs.ortho_init``), lower-cased.

Nothing is executed: values are the scalars the config reader returns, and a name's value
is read as a number or a boolean only when it spells one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from lrdoctor.model import LRShape, Sourced
from lrdoctor.words import display

# Spellings (the last part of a dotted key, lower-case, '-' as '_') of one setting, by library.
_SPELLINGS: dict[str, tuple[str, ...]] = {
    "learning_rate": ("learning_rate", "lr", "learningrate", "base_lr", "actor_lr", "policy_lr", "lr_rate"),
    "seed": ("seed", "random_seed", "seed_value", "rng_seed"),
    "ent_coef": ("ent_coef", "ent_coeff", "entropy_coef", "entropy_coeff", "ent", "entropy_loss_scale",
                 "entropy_cost", "entropy_beta"),
    "clip_range": ("clip_range", "clip_coef", "clip_param", "e_clip", "clip_ratio", "eps_clip", "clip_epsilon",
                   "ratio_clip", "clip"),
    "n_steps": ("n_steps", "num_steps", "horizon_length", "num_steps_per_env", "rollout", "rollouts",
                "rollout_fragment_length", "nsteps"),
    "batch_size": ("batch_size", "minibatch_size", "mini_batch_size", "sgd_minibatch_size", "minibatch"),
    "n_epochs": ("n_epochs", "update_epochs", "num_epochs", "num_sgd_iter", "mini_epochs", "num_learning_epochs",
                 "learning_epochs", "ppo_epochs", "noptepochs"),
    "n_minibatches": ("num_minibatches", "n_minibatches", "num_mini_batches", "mini_batches", "nminibatches"),
    "gamma": ("gamma", "discount", "discount_factor"),
    "gae_lambda": ("gae_lambda", "lambda", "lambda_", "lam", "gae_lam"),
    "vf_coef": ("vf_coef", "vf_loss_coeff", "value_loss_coef", "critic_coef", "value_loss_coeff", "value_loss_scale",
                "vf_coeff"),
    "max_grad_norm": ("max_grad_norm", "grad_clip", "grad_norm_clipping", "max_grad_norm_clip", "grad_norm",
                      "max_norm"),
    "target_kl": ("target_kl",),
    "n_envs": ("n_envs", "num_envs", "num_actors", "num_envs_per_worker"),
    "total_steps": ("n_timesteps", "total_timesteps", "num_timesteps", "total_steps", "train_for_env_steps",
                    "max_env_steps", "timesteps"),
    "policy": ("policy",),
    "env_id": ("env_id", "env", "env_name", "task", "environment"),
    "normalize_advantage": ("normalize_advantage", "norm_adv", "normalize_advantages", "normalize_advantage_flag"),
    "anneal_lr": ("anneal_lr",),
}
CANONICAL: dict[str, str] = {spelling: key for key, spellings in _SPELLINGS.items() for spelling in spellings}

# A key that names a seed: a sweep's seeds vary by design and are never a cause.
_SEED = re.compile(r"(^|[._])seed($|[._])|seed$")

# Keys that say where and how a run was kept, not how it trained: never settings.
_BOOKKEEPING = frozenset({
    "run_name", "exp_name_suffix", "log_dir", "logdir", "save_path", "save_dir", "output_dir", "tensorboard_log",
    "log_path", "checkpoint_dir", "wandb_project_name", "wandb_entity", "wandb_project", "wandb_group", "track",
    "capture_video", "hf_entity", "upload_model", "save_model", "verbose", "log_interval", "save_freq",
    "eval_freq", "device", "cuda", "torch_deterministic", "num_threads", "uuid", "trial_id", "experiment_id",
    "date", "time", "timestamp", "hostname", "host", "pid", "start_time", "experiment_tag", "logger",
})

MAX_TEXT = 80  # a longer string is a path or a dump, not a value to compare runs by
MAX_LEAVES = 2_000  # a config's own settings are dozens; a dump of thousands is walked no further

# Directory-name patterns. ``key=value`` takes any key; a number glued to a key (``lr3e-4``)
# or after it (``seed_2``) only a key of the table, so ``PPO_1`` or ``v2`` are not settings.
_KEY_EQUALS = re.compile(r"(?<![A-Za-z0-9.])([A-Za-z][A-Za-z0-9]*(?:[_.][A-Za-z][A-Za-z0-9]*)*)=")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_UNSIGNED = r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_GLUED = re.compile(rf"([A-Za-z][A-Za-z_]*?)[-_]?({_UNSIGNED})")  # lr3e-4, lr-3e-4: the dash is no sign
_CLEANRL = re.compile(r"(?P<env>[^_]+(?:_[^_]+)*?)__(?P<exp>[^_].*?)__(?P<seed>\d+)__(?P<time>\d{9,})")


def canonical_key(key: str) -> str:
    """A dotted config key in the flat key space: ``ppo.clip_param`` -> ``clip_range``; a key
    no table knows stays as written, lower-cased (``policy_kwargs.ortho_init``)."""
    lowered = key.strip().lower().replace("-", "_")
    return CANONICAL.get(lowered.rsplit(".", 1)[-1], lowered)


def is_seed(key: str) -> bool:
    """Whether a canonical key is a seed (``seed``, ``env.seed``, ``torch_seed``)."""
    return bool(_SEED.search(key))


def settings_from_mapping(data: Mapping[str, Any], where: Any) -> dict[str, Sourced]:
    """The leaves of one config unit as settings. ``where(path) -> str`` names a leaf's place
    (``exp1/config.yaml:12 ppo.clip_param``). A key met twice (``actor.lr`` and ``critic.lr``)
    keeps its shallowest spelling under the canonical name and the other under its own path."""
    found: dict[str, Sourced] = {}
    leaves = sorted(_leaves(data, ()), key=lambda leaf: len(leaf[0]))
    for path, value in leaves:
        dotted = ".".join(str(part) for part in path)
        if dotted.rsplit(".", 1)[-1].lower() in _BOOKKEEPING or str(path[0]).startswith("_wandb"):
            continue
        key = canonical_key(dotted)
        if key in found:
            key = dotted.lower().replace("-", "_")
            if key in found:
                continue
        found[key] = Sourced(value, where(path))
    return found


def _leaves(value: Any, path: tuple, budget: list[int] | None = None) -> Iterator[tuple[tuple, Any]]:
    budget = [MAX_LEAVES] if budget is None else budget
    if isinstance(value, Mapping) and "value" in value and set(value) <= {"value", "desc"}:
        value = value["value"]  # W&B's config.yaml: every key is {desc: ..., value: ...}
    if isinstance(value, Mapping):
        for key, item in value.items():
            if budget[0] <= 0:
                return
            yield from _leaves(item, path + (key,), budget)
        return
    scalar = _scalar(value)
    if scalar is not None and path:
        budget[0] -= 1
        yield path, scalar


def _scalar(value: Any) -> Any:
    """A value runs can be compared by: a finite number, a boolean, a short string, or a
    short list of these (``net_arch: [64, 64]``, as its text); None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        return text if 0 < len(text) <= MAX_TEXT else None
    if isinstance(value, (list, tuple)) and 0 < len(value) <= 16:
        items = [_scalar(item) for item in value]
        if all(item is not None and not isinstance(item, (list, tuple)) for item in items):
            text = "[" + ", ".join(str(item) for item in items) + "]"
            return text if len(text) <= MAX_TEXT else None
    return None


def settings_from_names(names: Sequence[str]) -> dict[str, Sourced]:
    """Settings spelled in directory names, nearest name first: ``lr=3e-4_ent=0.0_seed=100``,
    ``lr3e-4``, ``seed_2``, CleanRL's ``CartPole-v1__ppo__1__1700000000``."""
    found: dict[str, Sourced] = {}
    for name in names:
        for key, value in _name_pairs(name):
            canonical = canonical_key(key)
            found.setdefault(canonical, Sourced(value, f"directory name '{display(name)}' {display(key)}"))
    return found


def _name_pairs(name: str) -> list[tuple[str, Any]]:
    cleanrl = _CLEANRL.fullmatch(name)
    if cleanrl:
        return [("exp_name", cleanrl["exp"]), ("seed", int(cleanrl["seed"]))]
    marks = [(mark.start(1), mark.end(1), mark.end()) for mark in _KEY_EQUALS.finditer(name)]
    if marks:
        return _equals_pairs(name, marks)
    pairs = []
    tokens = re.split(r"[_,;+ ]+|-(?=[A-Za-z])", name)
    for index, token in enumerate(tokens):
        glued = _GLUED.fullmatch(token)
        if glued and glued[1].lower() in CANONICAL:
            pairs.append((glued[1], _value(glued[2])))
        elif token.lower() in CANONICAL and index + 1 < len(tokens) and re.fullmatch(_NUMBER, tokens[index + 1]):
            pairs.append((token, _value(tokens[index + 1])))
    return pairs


def _equals_pairs(name: str, marks: list[tuple[int, int, int]]) -> list[tuple[str, Any]]:
    """``key=value`` pairs; a value may hold underscores (``arch=graph_free_lr=1e-3``), so a key
    after the first that is no known key but ends in one (``graph_free_lr``) starts at that one."""
    for index in range(1, len(marks)):
        start, end, after = marks[index]
        key = name[start:end]
        if canonical_key(key) == key.lower() and key.lower() not in CANONICAL:
            known = [m.start() + 1 for m in re.finditer("_", key) if key[m.start() + 1:].lower() in CANONICAL]
            if known:
                marks[index] = (start + known[0], end, after)
    pairs = []
    for (start, end, after), following in zip(marks, marks[1:] + [None]):
        stop = following[0] if following else len(name)
        text = name[after:stop].rstrip("_,;+ -") if following else name[after:stop]
        if text:
            pairs.append((name[start:end], _value(text)))
    return pairs


def _value(text: str) -> Any:
    """A name's value as the number or boolean it spells, else the text itself."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if re.fullmatch(_NUMBER, text):
        number = float(text)
        return number if math.isfinite(number) else text
    return display(text)


def settings_from_logged_lr(lr_shape: LRShape, lr_tag: str | None) -> dict[str, Sourced]:
    """The logged LR's shape and peak, so a sweep without configs is still compared by them."""
    found: dict[str, Sourced] = {}
    if lr_shape.kind not in ("not-logged", "unknown") and lr_tag:
        found["lr_shape"] = Sourced(lr_shape.kind, f"logged LR ({display(lr_tag)})")
        if lr_shape.peak_lr is not None and math.isfinite(lr_shape.peak_lr) and lr_shape.peak_lr > 0:
            # float32 logs give 0.01 as 0.009999999776482582: to 6 digits it is the 0.01 a config declares
            peak = float(f"{lr_shape.peak_lr:.6g}")
            found["learning_rate"] = Sourced(peak, f"logged LR ({display(lr_tag)}), peak")
    return found


def merged(layers: Iterable[Mapping[str, Sourced]]) -> dict[str, Sourced]:
    """Layers nearest first: a key keeps the first value found for it."""
    result: dict[str, Sourced] = {}
    for layer in layers:
        for key, value in layer.items():
            result.setdefault(key, value)
    return dict(sorted(result.items()))


def run_names(run_dir: Path, root: Path) -> list[str]:
    """The run's directory and those above it up to and including the argument, nearest first."""
    names = []
    directory = run_dir
    while True:
        if directory.name:
            names.append(directory.name)
        if directory == root or directory.parent == directory or root not in directory.parents:
            return names
        directory = directory.parent
