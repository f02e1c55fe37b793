"""Stable-Baselines3 integration: the rules, inside the training loop.

``LrDoctorCallback`` feeds the trainer's own logged values to lrdoctor's rules
every few rollouts, logs new findings through SB3's logger and can stop training::

    from sb3_contrib import RecurrentPPO
    from lrdoctor.live.sb3 import LrDoctorCallback

    model = RecurrentPPO("MlpLstmPolicy", "CartPole-v1", learning_rate=3e-4, target_kl=0.02)
    model.learn(1_000_000, callback=LrDoctorCallback(stop_on="error"))

What it reads, and when (checked in SB3's ``OnPolicyAlgorithm.learn``): each
iteration runs ``collect_rollouts`` (which ends with ``on_rollout_end``), then
``dump_logs`` (which writes and clears ``logger.name_to_value``), then ``train``
(which records ``train/*``). So at a rollout's end ``name_to_value`` holds the
values of the previous ``train()``, the ones SB3 is about to write with this
rollout's ``num_timesteps``; the callback appends them at that step, the step
they get in SB3's own TensorBoard and CSV logs. ``train/n_updates`` tells a new
update from a value left over. The return is SB3's ``rollout/ep_rew_mean``
(and ``rollout/success_rate``), taken from the same episode buffers SB3 averages.
The values are mapped with SB3's tag table (``lrdoctor.read.tags``), exactly as a
logged SB3 run is read.

The architecture is read off the policy's modules: an ``nn.LSTM`` (sb3-contrib's
``RecurrentActorCriticPolicy.lstm_actor``), ``nn.GRU``, attention or Mamba block
anywhere in the policy, else the kind its extractors' names say (``NatureCNN``,
``MlpExtractor``); ``architecture=`` overrides it.

Stopping: a callback cannot stop ``learn`` at ``on_rollout_end`` (its value is
ignored) and SB3 then runs ``train()`` on the rollout just collected; the
callback returns False from the next ``_on_step``, the first step of the next
rollout, as ``StopTrainingOnNoModelImprovement`` does, and ``learn`` returns.

Acting on the early warning (``on_warning``): "stop" stops as above; "lower_lr" replaces
``model.lr_schedule``, which SB3's ``train()`` evaluates at every update (``_update_learning_rate``:
it logs ``train/learning_rate`` and sets every param group of the optimizer), with the
recommended warmup schedule started again from the current step (``monitor.Relaunch``), its
base the LR the optimizer holds. The action is logged through SB3's logger as
``lrdoctor/action``.

stable_baselines3 is imported when ``LrDoctorCallback`` is first used, not when
this module is imported (``pip install 'lrdoctor[sb3]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np

from lrdoctor.arch import is_recurrent, kind_of
from lrdoctor.live import monitor
from lrdoctor.live.monitor import GRACE_UPDATES, StopPolicy, live_options, named_architecture, number, relaunch
from lrdoctor.live.watch import new_findings
from lrdoctor.model import (
    Architecture,
    Finding,
    RunConfig,
    RunResult,
    Severity,
    Sourced,
)
from lrdoctor.rules import engine
from lrdoctor.rules.options import Options

LIBRARY = "sb3"
RETURN_TAG = "rollout/ep_rew_mean"  # what SB3's dump_logs names the mean of its episode buffer
SUCCESS_TAG = "rollout/success_rate"
UPDATES_TAG = "train/n_updates"
# Kinds named by a module's class, most specific first: an LSTM policy is an LSTM policy
# even though its class is called "Recurrent..." and it holds an MlpExtractor.
_KIND_ORDER = ("lstm", "gru", "attention", "mamba", "rnn", "cnn", "mlp")


class Recorder(monitor.Recorder):
    """SB3's logged values, mapped with SB3's tag table; ``add_logged`` takes one rollout's end."""

    def __init__(self) -> None:
        super().__init__(library=LIBRARY)
        self.last_updates: Any = None

    def add_logged(self, step: int, name_to_value: dict[str, Any], episode_returns: Iterable[float],
                   successes: Iterable[float]) -> None:
        """One rollout's end: the last update's values (when there was a new one) and the episode means."""
        updates = name_to_value.get(UPDATES_TAG)
        if updates is not None and updates != self.last_updates:
            self.last_updates = updates
            self.add(step, name_to_value)
        returns, wins = list(episode_returns), list(successes)
        self.add(step, {RETURN_TAG: np.mean(returns) if returns else None,
                        SUCCESS_TAG: np.mean(wins) if wins else None})


def policy_architecture(policy: Any) -> Architecture:
    """The architecture of an SB3 policy (any torch module), from its modules' classes."""
    policy_name = type(policy).__name__
    kinds: dict[str, str] = {}
    layers: set[str] = set()  # kinds found as a torch layer (nn.GRU), not only in a class's name
    for name, module in policy.named_modules():
        kind = kind_of(type(module).__name__)
        if kind is None or not name:
            continue
        layer = type(module).__module__.startswith("torch.nn")
        if kind not in kinds or (layer and kind not in layers):
            kinds[kind] = f"policy {policy_name}: {name} is {type(module).__name__}"
            if layer:
                layers.add(kind)
    for kind in _KIND_ORDER:
        if kind in kinds:
            return Architecture(kind, is_recurrent(kind), policy_name, kinds[kind])
    own = kind_of(policy_name)
    if own is not None:
        return Architecture(own, is_recurrent(own), policy_name, f"policy class name {policy_name}")
    return Architecture(name=policy_name, source=f"policy {policy_name}: no module names an architecture")


def model_config(model: Any, total_timesteps: Any) -> RunConfig:
    """What the model was built with, as a config file would declare it."""
    algorithm = type(model).__name__
    learning_rate = getattr(model, "learning_rate", None)
    target_kl = getattr(model, "target_kl", None)
    return RunConfig(
        lr=Sourced(float(learning_rate), f"{algorithm}(learning_rate=...)") if number(learning_rate) else None,
        target_kl=Sourced(float(target_kl), f"{algorithm}(target_kl=...)") if number(target_kl) else None,
        total_steps=(
            Sourced(int(total_timesteps), "learn(total_timesteps=...)") if number(total_timesteps) else None
        ),
    )


def finding_text(finding: Finding) -> str:
    at = f" at step {finding.step:,}" if finding.step is not None else ""
    return f"{finding.severity.value}{at}: {finding.message}"


def _callback_class():
    try:
        from stable_baselines3.common.callbacks import BaseCallback
    except ImportError as error:
        raise ImportError(
            "lrdoctor.live.sb3.LrDoctorCallback needs stable-baselines3: pip install 'lrdoctor[sb3]'"
        ) from error

    class LrDoctorCallback(BaseCallback):
        """Run lrdoctor's rules on the trainer's logged values every ``check_every_rollouts``
        rollouts; log new findings as ``lrdoctor/<code>``, print them when ``verbose``, and
        stop training at a finding about the dynamics of ``stop_on`` severity or above (None:
        never), after the first ``grace_updates`` updates. Findings about the run's settings
        (LRD002, LRD003, LRD011, LRD014) are reported once and stop nothing unless
        ``stop_on_static`` (``lrdoctor.live.monitor.StopPolicy``). ``select``/``ignore`` pick
        rules by code, slug or prefix. ``on_warning`` ("stop" or "lower_lr") acts at the first
        finding about the dynamics of warning severity or above after the grace period: the
        collapse forecast (LRD015), which comes before the collapse.

        After training, ``result`` is the last RunResult and ``findings`` every finding
        reported, in order (a finding again only when its severity rose)."""

        def __init__(
            self,
            check_every_rollouts: int = 1,
            stop_on: str | None = "error",
            options: Options | None = None,
            architecture: str | None = None,
            verbose: int = 1,
            grace_updates: int = GRACE_UPDATES,
            stop_on_static: bool = False,
            select: Iterable[str] | None = None,
            ignore: Iterable[str] | None = None,
            on_warning: str | None = None,
        ) -> None:
            super().__init__(verbose)
            if not isinstance(check_every_rollouts, int) or check_every_rollouts < 1:
                raise ValueError(f"check_every_rollouts must be a positive integer, not {check_every_rollouts!r}")
            self.policy = StopPolicy(stop_on, grace_updates, stop_on_static, on_warning)
            self.warned_by: Finding | None = None
            self.relaunched = None
            self.check_every_rollouts = check_every_rollouts
            self.stop_on = stop_on
            self.options = live_options(select, ignore, options)
            self.architecture = architecture
            self.recorder = Recorder()
            self.result: RunResult | None = None
            self.findings: list[Finding] = []
            self.stopped_by: Finding | None = None
            self._reported: dict[tuple, Severity] = {}
            self._rollouts = 0

        def _on_training_start(self) -> None:
            self._config = model_config(self.model, self.locals.get("total_timesteps"))
            self._arch = (
                named_architecture(self.architecture, "LrDoctorCallback") if self.architecture else policy_architecture(self.model.policy)
            )

        def _on_rollout_end(self) -> None:
            model = self.model
            self.recorder.add_logged(
                model.num_timesteps,
                dict(self.logger.name_to_value),
                (info["r"] for info in model.ep_info_buffer or ()),
                model.ep_success_buffer or (),
            )
            self._rollouts += 1
            # Before the first update there is nothing to judge but missing metrics.
            if self._rollouts % self.check_every_rollouts == 0 and self.recorder.last_updates is not None:
                self.check()

        def check(self) -> list[Finding]:
            """Judge what was logged so far; log, print and act on the new findings."""
            name = type(self.model).__name__
            run = self.recorder.run(name, Path(self.logger.get_dir() or "."), self._arch, self._config)
            self.result = engine.analyze([run], self.options)[0]
            fresh = new_findings(self.result.findings, name, self._reported)
            updates = len(self.recorder.series.get(UPDATES_TAG, ((),))[0])
            for finding in fresh:
                self.findings.append(finding)
                self.logger.record(f"lrdoctor/{finding.code}", finding_text(finding))
                if self.verbose >= 1:
                    print(f"lrdoctor: {finding.code} {finding_text(finding)}")
                if self.stopped_by is None and self.policy.stops(finding, updates):
                    self.stopped_by = finding
                if self.warned_by is None and self.policy.warns(finding, updates):
                    self.warned_by = finding
                    self._act(finding)
            if self.stopped_by is not None and self.verbose >= 1 and self.stopped_by in fresh:
                asked = (f"on_warning={self.policy.on_warning!r}" if self.stopped_by is self.warned_by
                         else f"stop_on={self.stop_on!r}")
                print(f"lrdoctor: stopping training at step {self.model.num_timesteps:,} "
                      f"({self.stopped_by.code} {self.stopped_by.severity.value}, {asked})")
            return fresh

        def _act(self, finding: Finding) -> None:
            """The ``on_warning`` action, logged through SB3's logger (and printed when verbose)."""
            model = self.model
            if self.policy.on_warning == "stop":
                self.stopped_by = self.stopped_by or finding
                text = f"stop at step {model.num_timesteps:,} on {finding.code}"
            else:
                current = float(model.policy.optimizer.param_groups[0]["lr"])
                self.relaunched = relaunch(current, model.num_timesteps, model._total_timesteps)
                model.lr_schedule = self.relaunched.sb3(model._total_timesteps)
                text = f"lower_lr on {finding.code}: {self.relaunched.words()}"
            self.logger.record("lrdoctor/action", text)
            if self.verbose >= 1:
                print(f"lrdoctor: {text}")

        def _on_step(self) -> bool:
            return self.stopped_by is None

    LrDoctorCallback.__module__, LrDoctorCallback.__qualname__ = __name__, "LrDoctorCallback"
    return LrDoctorCallback


def __getattr__(name: str):
    # stable_baselines3 (and torch) load only when the callback is asked for.
    if name == "LrDoctorCallback":
        callback = globals()["LrDoctorCallback"] = _callback_class()
        return callback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
