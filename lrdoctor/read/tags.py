"""Per-library tag tables, as data: which logged tag feeds which canonical metric.

Each library lists, per canonical metric, its tags in order of preference (a tag
is a regex matched against the whole tag name). ``negated`` marks tags that log
-H where the canonical metric is +H; ``estimator`` names the KL estimator the
library computes (k1: mean(old_logp - logp); k3: mean((r - 1) - log r);
analytic: the closed-form KL between the two action distributions).
Checked against the libraries' own sources:

- SB3 PPO / sb3-contrib RecurrentPPO: ``logger.record("train/entropy_loss", -mean(entropy))``,
  ``approx_kl = mean((exp(log_ratio) - 1) - log_ratio)`` (k3), step = ``num_timesteps``.
- CleanRL ppo*.py: ``losses/entropy`` is the mean entropy (+H); ``losses/approx_kl`` is k3,
  ``losses/old_approx_kl`` is k1; step = ``global_step``.
- RLlib through Tune's TBXLoggerCallback: every result key flattened with ``/`` under
  ``ray/tune/``; step = ``timesteps_total``, or ``training_iteration`` when a result has none.
  Old stack: ``info/learner/<policy>/learner_stats/{cur_lr,kl,entropy,...}``;
  new stack: ``learners/<module>/{default_optimizer_learning_rate,mean_kl_loss,entropy,...}``.
- Sample Factory: ``train/<stat>`` at ``env_steps``; ``kl_divergence`` from the distributions.
- rl_games ``write_stats``: ``info/last_lr`` (lr x lr_mul), ``info/kl``, ``losses/entropy``
  at ``frame``; rewards as ``rewards/step`` (frames), ``rewards/iter`` (epochs) and
  ``rewards/time`` (seconds): only the frame-indexed one shares the step axis.
- skrl: ``Loss / Entropy loss`` is ``-entropy_loss_scale * H`` (divided out when a config
  beside the run, e.g. Isaac Lab's ``params/agent.yaml``, declares the scale); ``Learning /
  Learning rate`` only with a scheduler; step = timestep.
- Tianshou 2.x: ``update/ent_loss/mean`` is ``dist.entropy().mean()`` (+H despite the name),
  ``update/actor_loss/mean`` the policy loss, logged against gradient steps. Its returns are
  logged against env steps, a different axis, so they are not mapped (one run has one step
  axis), and the report says so.
- rsl_rl (5.x, and the renames before it): ``Loss/learning_rate`` (its adaptive LR),
  ``Loss/entropy`` (+H), ``Loss/value`` (``Loss/value_function`` before v5),
  ``Loss/surrogate``, ``Train/mean_reward``; no KL is logged; step = learning iteration.
- TorchRL sota-implementations: ``train/<loss key>`` at collected frames; ``kl_approx`` is
  ``mean(prev_log_prob - log_prob)`` (k1); ``loss_entropy`` is ``-entropy_coef * H``.
- PufferLib 3 (``pufferl.py``, W&B or Neptune only, no TensorBoard): ``wandb.log(logs,
  step=agent_steps)`` with ``learning_rate`` read back from ``optimizer.param_groups[0]``,
  ``losses/approx_kl`` = mean((r - 1) - log r) (k3), ``losses/old_approx_kl`` (k1),
  ``losses/entropy`` = mean entropy (+H), ``losses/clipfrac``, ``losses/value_loss``,
  ``losses/policy_loss``, ``losses/explained_variance``, and the env's own stats as
  ``environment/<stat>`` (the Ocean envs' ``Log`` struct: ``episode_return``, ``score``,
  ``perf``; the return is preferred, the score is the env's own unnormalised measure);
  step = ``agent_steps``. PufferLib 1-2 (``clean_pufferl.py``) logged the LR and the step as
  ``0verview/learning_rate`` and ``0verview/agent_steps`` -- a zero, not an O, to sort first.
- npp-rl's enhanced TensorBoard callback mirrors SB3's values under other names
  (``loss/entropy`` <- ``train/entropy_loss``, so it is -H too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping


@dataclass(frozen=True)
class TagRule:
    """One tag (a regex, matched against the whole name) that feeds a canonical metric."""

    metric: str
    pattern: str
    negated: bool = False
    estimator: str | None = None
    caveat: str | None = None  # what a report must say when this tag feeds the metric
    # The run setting (``read.settings`` key) the logged value is multiplied by, when the
    # library logs a scaled loss (skrl's -entropy_loss_scale x H): known, it is divided out.
    scaled_by: str | None = None


@dataclass(frozen=True)
class Library:
    """A library's naming: its rules in preference order, the unit of its step axis, and tags
    it logs that are deliberately not mapped, with why (a report says so when they are there)."""

    name: str
    step_axis: str
    rules: tuple[TagRule, ...]
    unmapped: tuple[tuple[str, str], ...] = ()  # (pattern, why)


def _rules(
    metric: str,
    *patterns: str,
    negated: bool = False,
    estimator: str | None = None,
    caveat: str | None = None,
    scaled_by: str | None = None,
) -> tuple[TagRule, ...]:
    return tuple(TagRule(metric, p, negated, estimator, caveat, scaled_by) for p in patterns)


# RLlib results go through Tune's logger, which prefixes "ray/tune/"; other loggers don't.
_TUNE = r"(?:ray/tune/)?"
_OLD_LEARNER = _TUNE + r"info/learner/[^/]+/learner_stats/"
_NEW_LEARNER = _TUNE + r"learners/[^/]+/"



def _skrl(tag: str) -> str:
    """skrl's tags have spaces and parentheses; a tensorboardX writer turns each into "_"."""
    return "".join(f"[{re.escape(c)}_]" if c in " ()" else re.escape(c) for c in tag)


_SB3_RULES = (
    *_rules("lr", "train/learning_rate"),
    *_rules("kl", "train/approx_kl", estimator="k3"),
    *_rules("entropy", "train/entropy_loss", negated=True),
    *_rules("clip_fraction", "train/clip_fraction"),
    *_rules("value_loss", "train/value_loss"),
    *_rules("policy_loss", "train/policy_gradient_loss"),
    *_rules("explained_variance", "train/explained_variance"),
    *_rules("episode_return", "rollout/ep_rew_mean", "eval/mean_reward"),
    *_rules("success_rate", "rollout/success_rate", "eval/success_rate"),
)

LIBRARIES: tuple[Library, ...] = (
    Library("sb3", "env steps", _SB3_RULES),
    Library(
        "npp-rl",
        "env steps",
        (
            *_rules("lr", "training/learning_rate"),
            *_rules("kl", "training/approx_kl", estimator="k3"),
            *_rules("entropy", "loss/entropy", negated=True),
            *_rules("clip_fraction", "training/clip_fraction"),
            *_rules("value_loss", "loss/value"),
            *_rules("policy_loss", "loss/policy"),
            *_rules("explained_variance", "training/explained_variance"),
            *_rules("success_rate", "episode/success_rate"),
            *_SB3_RULES,
        ),
    ),
    Library(
        "cleanrl",
        "env steps",
        (
            *_rules("lr", "charts/learning_rate"),
            *_rules("kl", "losses/approx_kl", estimator="k3"),
            *_rules("kl", "losses/old_approx_kl", estimator="k1"),
            *_rules("entropy", "losses/entropy"),
            *_rules("clip_fraction", "losses/clipfrac"),
            *_rules("value_loss", "losses/value_loss"),
            *_rules("policy_loss", "losses/policy_loss"),
            *_rules("explained_variance", "losses/explained_variance"),
            *_rules("episode_return", "charts/episodic_return"),
        ),
    ),
    Library(
        "pufferlib",
        "agent steps",
        (
            *_rules("lr", "learning_rate", "0verview/learning_rate"),
            *_rules("kl", "losses/approx_kl", estimator="k3"),
            *_rules("kl", "losses/old_approx_kl", estimator="k1"),
            *_rules("entropy", "losses/entropy"),
            *_rules("clip_fraction", "losses/clipfrac"),
            *_rules("value_loss", "losses/value_loss"),
            *_rules("policy_loss", "losses/policy_loss"),
            *_rules("explained_variance", "losses/explained_variance"),
            *_rules("episode_return", "environment/episode_return", "environment/score"),
        ),
    ),
    Library(
        "rllib",
        "timesteps_total",
        (
            *_rules("lr", _OLD_LEARNER + "cur_lr", _NEW_LEARNER + r"default_optimizer_(?:learning_rate|lr)"),
            *_rules("kl", _OLD_LEARNER + "kl", _NEW_LEARNER + "mean_kl_loss", estimator="analytic"),
            *_rules("entropy", _OLD_LEARNER + "entropy", _NEW_LEARNER + "entropy"),
            *_rules("value_loss", _OLD_LEARNER + "vf_loss", _NEW_LEARNER + "vf_loss"),
            *_rules("policy_loss", _OLD_LEARNER + "policy_loss", _NEW_LEARNER + "policy_loss"),
            *_rules("explained_variance", _OLD_LEARNER + "vf_explained_var", _NEW_LEARNER + "vf_explained_var"),
            *_rules(
                "episode_return",
                _TUNE + "env_runners/episode_return_mean",
                _TUNE + "env_runners/episode_reward_mean",
                _TUNE + "sampler_results/episode_reward_mean",
                _TUNE + "episode_reward_mean",
            ),
        ),
    ),
    Library(
        "sample-factory",
        "env steps",
        (
            *_rules("lr", "train/lr"),
            *_rules("kl", "train/kl_divergence", estimator="analytic"),
            *_rules("entropy", "train/entropy"),
            *_rules("clip_fraction", "train/fraction_clipped"),
            *_rules("value_loss", "train/value_loss"),
            *_rules("policy_loss", "train/policy_loss"),
            *_rules("episode_return", "reward/reward"),
        ),
    ),
    Library(
        "rl_games",
        "frames",
        (
            *_rules("lr", "info/last_lr"),
            *_rules("kl", "info/kl", estimator="analytic"),
            *_rules("entropy", "losses/entropy"),
            *_rules("value_loss", "losses/c_loss"),
            *_rules("policy_loss", "losses/a_loss"),
            *_rules("episode_return", "rewards/step", "rewards0/step"),
        ),
    ),
    Library(
        "skrl",
        "timesteps",
        (
            *_rules("lr", _skrl("Learning / Learning rate")),
            *_rules("entropy", _skrl("Loss / Entropy loss"), negated=True, scaled_by="ent_coef", caveat=(
                "skrl logs -entropy_loss_scale x H and no config beside the run gives the scale: "
                "entropy values are scaled, so only their shape is judged")),
            *_rules("value_loss", _skrl("Loss / Value loss")),
            *_rules("policy_loss", _skrl("Loss / Policy loss")),
            *_rules("episode_return", _skrl("Reward / Total reward (mean)")),
        ),
    ),
    Library(
        "tianshou",
        "update steps",
        (
            *_rules("entropy", "update/ent_loss/mean", "update/loss/ent"),
            *_rules("value_loss", "update/vf_loss/mean", "update/loss/vf"),
            *_rules("policy_loss", "update/actor_loss/mean", "update/clip_loss/mean", "update/loss/clip"),
        ),
        unmapped=((r"(?:training|test)/returns_stat/mean", (
            "Tianshou logs returns (training/returns_stat/mean) against env steps and its losses against "
            "update steps: a run has one step axis, so the returns are not used and the collapse and "
            "entropy rules judge without them")),),
    ),
    Library(
        "rsl_rl",
        "iterations",
        (
            # rsl_rl logs no KL: its KL only drives the adaptive LR, clamped to [1e-5, 1e-2].
            *_rules("lr", "Loss/learning_rate"),
            *_rules("entropy", "Loss/entropy"),
            *_rules("value_loss", "Loss/value", "Loss/value_function"),  # value_function before v5
            *_rules("policy_loss", "Loss/surrogate"),
            *_rules("episode_return", "Train/mean_reward"),
        ),
    ),
    Library(
        "torchrl",
        "frames",
        (
            *_rules("lr", "train/lr"),
            *_rules("kl", "train/kl_approx", estimator="k1"),
            *_rules("entropy", "train/entropy"),
            *_rules("entropy", "train/loss_entropy", negated=True, scaled_by="ent_coef", caveat=(
                "TorchRL's train/loss_entropy is -entropy_coef x H and no config beside the run gives the "
                "coefficient: entropy values are scaled, so only "
                "their shape is judged")),
            *_rules("clip_fraction", "train/clip_fraction"),
            *_rules("value_loss", "train/loss_critic"),
            *_rules("policy_loss", "train/loss_objective"),
            *_rules("explained_variance", "train/explained_variance"),
            *_rules("episode_return", "train/reward", "eval/reward"),
        ),
    ),
)

LIBRARY_BY_NAME: dict[str, Library] = {lib.name: lib for lib in LIBRARIES}


def rule_for(library: str | None, metric: str, tag: str) -> TagRule | None:
    """The table rule that mapped ``tag`` to ``metric`` in ``library`` (None for --tag's)."""
    lib = LIBRARY_BY_NAME.get(library or "")
    return next((r for r in lib.rules if r.metric == metric and _matches(r.pattern, tag)), None) if lib else None

# Tune's step is timesteps_total when the result has one, else training_iteration;
# this tag (when logged) tells which one a run used.
RLLIB_TIMESTEPS_TAG = re.compile(_TUNE + "timesteps_total")
# The new API stack reports no timesteps_total, so Tune steps by training_iteration; this
# counter, logged each iteration, gives the env steps of each.
RLLIB_LIFETIME_TAG = re.compile(_TUNE + "(?:env_runners/)?num_env_steps_sampled_lifetime")


def override_rules(overrides: Mapping[str, str] | None) -> tuple[TagRule, ...]:
    """``--tag metric=tag`` mappings as rules; a leading ``-`` on the tag means it logs -H-style
    negated values (``--tag entropy=-my/entropy_loss``)."""
    rules = []
    for metric, tag in (overrides or {}).items():
        negated = tag.startswith("-")
        rules.append(TagRule(metric, re.escape(tag[1:] if negated else tag), negated))
    return tuple(rules)


def wanted_pattern(extra: Iterable[TagRule] = ()) -> re.Pattern[str]:
    """One compiled regex matching every tag any table (or override) maps, so the reader
    materialises only those."""
    return _wanted(tuple(extra))


@lru_cache(maxsize=16)
def _wanted(extra: tuple[TagRule, ...]) -> re.Pattern[str]:
    patterns = {rule.pattern for lib in LIBRARIES for rule in lib.rules}
    patterns.update(rule.pattern for rule in extra)
    patterns.update((RLLIB_TIMESTEPS_TAG.pattern, RLLIB_LIFETIME_TAG.pattern))
    return re.compile("|".join(f"(?:{p})" for p in sorted(patterns)))


@dataclass(frozen=True)
class TagChoice:
    """The tag chosen for one metric, the rule that chose it, and the other candidates."""

    tag: str
    rule: TagRule
    alternatives: tuple[str, ...] = ()


def choose_library(tags: Iterable[str]) -> Library | None:
    """The library whose table maps the most canonical metrics from these tags.

    Ties go to the earlier library in ``LIBRARIES`` (SB3 before npp-rl, whose
    table contains SB3's). None when no table maps anything.
    """
    tags = list(tags)
    best, best_score = None, 0
    for lib in LIBRARIES:
        score = len(map_tags(tags, lib.rules))
        if score > best_score:
            best, best_score = lib, score
    return best


def map_tags(tags: Iterable[str], rules: Iterable[TagRule]) -> dict[str, TagChoice]:
    """For each metric, the first rule (in order) that matches a tag, and which tag.

    When one rule matches several tags (RLlib: one per policy), the default policy or
    module is preferred, then the first in name order; the others are kept as alternatives.
    """
    return dict(_mapped(tuple(sorted(tags)), tuple(rules)))


@lru_cache(maxsize=64)
def _mapped(tags: tuple[str, ...], rules: tuple[TagRule, ...]) -> dict[str, TagChoice]:
    """``map_tags`` of sorted tags. The runs of a sweep log the same tags, so each table's
    regexes are matched against them once per process, not once per run."""
    chosen: dict[str, TagChoice] = {}
    for rule in rules:
        if rule.metric in chosen:
            continue
        hits = [tag for tag in tags if _matches(rule.pattern, tag)]
        if hits:
            hits.sort(key=lambda t: ("/default_policy/" not in t and "/default_module/" not in t, t))
            chosen[rule.metric] = TagChoice(hits[0], rule, tuple(hits[1:]))
    return chosen


_METACHARACTERS = frozenset(".^$*+?{}[]\\|()")


def _matches(pattern: str, tag: str) -> bool:
    """Whether ``pattern`` matches the whole tag. Most table patterns are plain names, compared
    as strings: compiling the tables' eighty-odd regexes cost every reader process 7 ms."""
    return tag == pattern if _METACHARACTERS.isdisjoint(pattern) else re.fullmatch(pattern, tag) is not None
