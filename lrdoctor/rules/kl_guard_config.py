"""LRD012 kl-guard-config: a training config whose KL guard is inert, missing or too loose.

Why: the collapse that started lrdoctor went unchecked because nothing reacted to
the KL: it reached 0.0334 against a target of 0.02 while the LR stayed where it
was. A KL guard stops that early, but only when it is switched on and tight:

- an inert threshold: a KL threshold that the configured LR schedule never reads,
  e.g. rl_games ``kl_threshold`` with ``lr_schedule: linear`` (rl_games reads it
  only for ``adaptive``), Sample Factory ``lr_schedule_kl_threshold`` with
  ``lr_schedule: constant``, skrl ``learning_rate_scheduler_kwargs.kl_threshold``
  without ``KLAdaptiveLR``;
- an adaptive schedule without its threshold: rl_games ``lr_schedule: adaptive``
  without ``kl_threshold`` (rl_games stops with a KeyError);
- a loose guard: an adaptive threshold or an SB3 ``target_kl`` above
  ``max_target_kl``;
- no guard (info): an SB3 / rl-baselines3-zoo recurrent policy without
  ``target_kl`` (SB3's default is None: no early stop).

Config files only (``lrdoctor check``); on logged runs LRD001 kl-exceeded judges
the KL itself.

Options:
- ``max_target_kl`` (0.05): a threshold or target_kl above this is loose.
- ``recommended_target_kl`` (0.02): the value the fix proposes, the threshold of
  the originating analysis.

Example::

    hyperparams/ppo_lstm.yml:12:3: LRD012 warning target_kl 0.1 is a loose KL guard:
    it stops an update only after the KL passes 0.1, above the 0.05 limit.
    Fix: set target_kl: 0.02
"""

from __future__ import annotations

from lrdoctor.model import Severity

CODE = "LRD012"
SLUG = "kl-guard-config"
SEVERITY = Severity.warning
SCOPE = "config"
REQUIRES: tuple = ()
OPTIONS = {"max_target_kl": 0.05, "recommended_target_kl": 0.02}
LIMITS = {"max_target_kl": (0, None), "recommended_target_kl": (0, None)}
