"""lrdoctor.live.sb3.LrDoctorCallback in short real Stable-Baselines3 trainings (CPU, CartPole).

The SB3 tests are skipped, with the reason, where stable-baselines3 / sb3-contrib are
not installed (``pip install 'lrdoctor[sb3]'``). Each training is a few hundred
environment steps with tiny networks. The values the callback fed to the rules are
compared with what SB3 itself wrote to its CSV log at the same steps, which is how
"at a rollout's end the logger holds the previous update's values" is checked.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from lrdoctor import rules
from lrdoctor.live import sb3 as lrd_sb3
from lrdoctor.rules.options import load_options

ROOT = Path(__file__).resolve().parents[2]
N_STEPS = 64


def needs_sb3():
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 not installed (pip install 'lrdoctor[sb3]')")
    pytest.importorskip("sb3_contrib", reason="sb3-contrib not installed (pip install 'lrdoctor[sb3]')")


def options():
    return load_options(cwd=ROOT / "tests")


def logged_by_sb3(directory: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of ``tag`` in the progress.csv SB3 wrote, where it has one."""
    with open(directory / "progress.csv", newline="") as handle:
        return [(int(row["time/total_timesteps"]), float(row[tag])) for row in csv.DictReader(handle) if row.get(tag)]


def recorded(callback, tag: str) -> list[tuple[int, float]]:
    """(step, value) the callback fed to the rules, to compare with the CSV's text (float32 printed by SB3)."""
    steps, values = callback.recorder.series.get(tag, ([], []))
    return [(step, pytest.approx(value, rel=1e-6)) for step, value in zip(steps, values)]


def test_importing_the_module_does_not_import_sb3_or_torch():
    code = "import sys, lrdoctor.live.sb3; print('stable_baselines3' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_architecture_given_by_name():
    named = lrd_sb3.named_architecture("graph_free_gru", "LrDoctorCallback")
    assert (named.kind, named.recurrent, named.name) == ("gru", True, "graph_free_gru")
    assert lrd_sb3.named_architecture("lstm", "LrDoctorCallback").kind == "lstm"
    assert lrd_sb3.named_architecture("graph_free", "LrDoctorCallback").kind == "unknown"  # a name alone says nothing


def test_bad_arguments_are_refused():
    needs_sb3()
    with pytest.raises(ValueError, match="stop_on"):
        lrd_sb3.LrDoctorCallback(stop_on="fatal")
    with pytest.raises(ValueError, match="check_every_rollouts"):
        lrd_sb3.LrDoctorCallback(check_every_rollouts=0)


def test_recurrent_ppo_at_a_constant_lr_is_stopped_on_the_warning_when_asked(tmp_path, capsys):
    # Before the KL has done anything, a constant LR on an LSTM is a risk, not a failure: LRD002
    # is a warning on a run whose dynamics hold (issue 15), and a finding about the run's settings
    # stops training only when asked (stop_on_static, issue 19), so this takes both.
    needs_sb3()
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.logger import configure

    model = RecurrentPPO(
        "MlpLstmPolicy", "CartPole-v1", n_steps=N_STEPS, batch_size=N_STEPS, n_epochs=2, learning_rate=3e-4,
        seed=0, device="cpu", policy_kwargs={"lstm_hidden_size": 8, "net_arch": [8]},
    )
    model.set_logger(configure(str(tmp_path), ["csv"]))
    callback = lrd_sb3.LrDoctorCallback(stop_on="warning", stop_on_static=True, options=options())
    model.learn(N_STEPS * 20, callback=callback)

    arch = callback.result.run.architecture
    assert (arch.kind, arch.source) == ("lstm", "policy RecurrentActorCriticPolicy: lstm_actor is LSTM")
    assert callback.stopped_by.code == "LRD002"
    # Rollout 1 has no update to judge; rollout 2's end holds update 1's values (constant
    # 3e-4 on an LSTM): training stops at the first step of rollout 3, before collecting it.
    assert model.num_timesteps == 2 * N_STEPS + 1
    assert callback.recorder.series["train/learning_rate"] == ([2 * N_STEPS], [3e-4])
    assert logged_by_sb3(tmp_path, "train/approx_kl") == recorded(callback, "train/approx_kl")
    with open(tmp_path / "progress.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[-1]["lrdoctor/LRD002"].startswith("warning: constant LR 3e-04 on a recurrent LSTM policy")
    assert "lrdoctor: LRD002 warning: constant LR 3e-04" in capsys.readouterr().out


def test_values_are_those_sb3_logs_at_the_same_steps_and_stop_on_none_never_stops(tmp_path, capsys):
    needs_sb3()
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import configure

    model = PPO("MlpPolicy", "CartPole-v1", n_steps=N_STEPS, batch_size=N_STEPS, n_epochs=2, seed=0, device="cpu",
                policy_kwargs={"net_arch": [8]})
    model.set_logger(configure(str(tmp_path), ["csv"]))
    callback = lrd_sb3.LrDoctorCallback(check_every_rollouts=2, stop_on=None, options=options(), verbose=0)
    model.learn(N_STEPS * 6, callback=callback)

    assert model.num_timesteps == N_STEPS * 6 and callback.stopped_by is None
    arch = callback.result.run.architecture
    assert (arch.kind, arch.recurrent) == ("mlp", False)
    for tag in ("train/approx_kl", "train/entropy_loss", "train/learning_rate", "train/clip_fraction",
                "train/value_loss", "rollout/ep_rew_mean"):
        assert recorded(callback, tag) == logged_by_sb3(tmp_path, tag), tag
    run = callback.result.run
    assert run.sources["entropy"].negated and (run.metrics["entropy"] > 0).all()  # SB3 logs -H
    assert run.sources["kl"].estimator == "k3" and run.library == "sb3"
    assert run.config.total_steps.value == N_STEPS * 6
    assert not any(f.code == "LRD002" for f in callback.findings)
    assert capsys.readouterr().out == ""  # verbose=0


def test_a_gru_in_a_custom_feature_extractor_makes_it_a_gru_policy():
    needs_sb3()
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    class GraphFreeGru(BaseFeaturesExtractor):  # the originating case's extractor, in miniature
        def __init__(self, observation_space, features_dim=8):
            super().__init__(observation_space, features_dim)
            self.gru = torch.nn.GRU(observation_space.shape[0], features_dim, batch_first=True)

        def forward(self, observations):
            return self.gru(observations.unsqueeze(1))[0].squeeze(1)

    model = PPO("MlpPolicy", "CartPole-v1", device="cpu",
                policy_kwargs={"features_extractor_class": GraphFreeGru, "net_arch": [8]})
    arch = lrd_sb3.policy_architecture(model.policy)
    assert (arch.kind, arch.recurrent) == ("gru", True)
    assert arch.source == "policy ActorCriticPolicy: features_extractor.gru is GRU"


def test_a_kl_blow_up_stops_a_feedforward_ppo_at_the_next_rollout(tmp_path):
    """LR 0.1 on CartPole: the KL goes far over 0.02 within a few updates (LRD001 error)."""
    needs_sb3()
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import configure

    model = PPO("MlpPolicy", "CartPole-v1", n_steps=N_STEPS, batch_size=N_STEPS, n_epochs=4, learning_rate=0.1,
                seed=0, device="cpu", policy_kwargs={"net_arch": [8]})
    model.set_logger(configure(str(tmp_path), ["csv"]))
    # no grace period here: the stop comes at the first error (the grace period has its own test)
    callback = lrd_sb3.LrDoctorCallback(stop_on="error", grace_updates=0, options=options(), verbose=0)
    model.learn(N_STEPS * 40, callback=callback)

    stop = callback.stopped_by
    assert (stop.code, stop.severity.value) == ("LRD001", "error")
    assert not any(f.code == "LRD002" for f in callback.findings)  # an MLP at a constant LR is not LRD002
    kl_steps, kl_values = callback.recorder.series["train/approx_kl"]
    assert max(kl_values) > 0.02 and stop.step == next(s for s, v in zip(kl_steps, kl_values) if v > 0.02)
    assert model.num_timesteps == kl_steps[-1] + 1 < N_STEPS * 40  # the first step after the check
    with open(tmp_path / "progress.csv", newline="") as handle:
        assert any(row.get("lrdoctor/LRD001", "").startswith("error") for row in csv.DictReader(handle))


def test_settings_findings_never_stop_and_the_grace_period_delays_a_stop(tmp_path):
    """The README's snippet at a too-high LR: LRD002 is reported at once and does not stop
    training; the KL's sustained excess stops it, after the grace period."""
    needs_sb3()
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.logger import configure

    model = RecurrentPPO(
        "MlpLstmPolicy", "CartPole-v1", n_steps=N_STEPS, batch_size=N_STEPS // 2, n_epochs=10, learning_rate=1e-2,
        seed=100, device="cpu", policy_kwargs={"lstm_hidden_size": 8, "net_arch": [8]},
    )
    model.set_logger(configure(str(tmp_path), ["csv"]))
    callback = lrd_sb3.LrDoctorCallback(stop_on="error", grace_updates=12, options=options(), verbose=0)
    model.learn(N_STEPS * 60, callback=callback)

    codes = [f.code for f in callback.findings]
    assert codes[0] == "LRD002" and callback.stopped_by is not None and callback.stopped_by.code != "LRD002"
    assert not rules.static(callback.stopped_by.code)
    updates = len(callback.recorder.series["train/n_updates"][0])
    assert updates > 12 and model.num_timesteps < N_STEPS * 60


def test_ignore_and_select_by_code(tmp_path):
    needs_sb3()
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import configure

    model = PPO("MlpPolicy", "CartPole-v1", n_steps=N_STEPS, batch_size=N_STEPS, n_epochs=4, learning_rate=0.1,
                seed=0, device="cpu", policy_kwargs={"net_arch": [8]})
    model.set_logger(configure(str(tmp_path), ["csv"]))
    callback = lrd_sb3.LrDoctorCallback(stop_on="error", grace_updates=0, ignore=["kl-exceeded", "LRD006"], verbose=0)
    model.learn(N_STEPS * 12, callback=callback)
    assert not any(f.code in ("LRD001", "LRD006") for f in callback.findings)
    with pytest.raises(Exception, match="unknown rule"):
        lrd_sb3.LrDoctorCallback(select=["LRD999"])


def test_lower_lr_switches_sb3_to_the_warmup_schedule_which_sb3_logs_and_applies(tmp_path, capsys):
    """on_warning="lower_lr" in a real training: after the warning, SB3's own train() logs
    train/learning_rate from the new schedule and sets it in every param group of the optimizer."""
    needs_sb3()
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import configure

    model = PPO("MlpPolicy", "CartPole-v1", n_steps=N_STEPS, batch_size=N_STEPS, n_epochs=4, learning_rate=0.1,
                seed=100, device="cpu", policy_kwargs={"net_arch": [8]})
    model.set_logger(configure(str(tmp_path), ["csv"]))
    applied: list[tuple[int, float]] = []
    train = model.train

    def train_and_note():  # what the optimizer holds after SB3's train() set it
        train()
        applied.append((model.num_timesteps, model.policy.optimizer.param_groups[0]["lr"]))

    model.train = train_and_note
    callback = lrd_sb3.LrDoctorCallback(stop_on=None, on_warning="lower_lr", grace_updates=2, options=options())
    model.learn(N_STEPS * 16, callback=callback)

    assert model.num_timesteps == N_STEPS * 16 and callback.stopped_by is None  # lowered, not stopped
    relaunched = callback.relaunched
    assert relaunched is not None and relaunched.schedule.base_lr == pytest.approx(0.1)
    assert relaunched.schedule.total_steps == N_STEPS * 16 - relaunched.from_step
    # SB3 writes a train() call's values with the next rollout's step (N_STEPS later)
    logged = [(step - N_STEPS, lr) for step, lr in logged_by_sb3(tmp_path, "train/learning_rate")]
    after = [(step, lr) for step, lr in logged if step >= relaunched.from_step]
    assert after and after[0] == (relaunched.from_step, pytest.approx(0.001, rel=1e-5))  # a hundredth, at once
    assert [lr for _, lr in after] == [pytest.approx(relaunched.lr(step), rel=1e-5) for step, _ in after]
    assert all(lr <= 0.1 * (1 + 1e-6) for _, lr in after)  # it warms back up to the LR it lowered
    applied_after = [(step, lr) for step, lr in applied if step >= relaunched.from_step]
    assert applied_after[: len(after)] == [(step, pytest.approx(lr, rel=1e-5)) for step, lr in after]
    with open(tmp_path / "progress.csv", newline="") as handle:
        actions = [row["lrdoctor/action"] for row in csv.DictReader(handle) if row.get("lrdoctor/action")]
    assert len(actions) == 1 and actions[0].startswith("lower_lr on LRD0")
    assert "LR lowered to the recommended warmup schedule from step" in capsys.readouterr().out


README_SNIPPET = "# a too-high constant LR on an LSTM"


def test_the_readme_snippet_as_written_stops_a_real_recurrent_ppo_on_dynamic_evidence():
    """The README's callback snippet, run as written (RecurrentPPO, CartPole, a constant 2e-2,
    seed 102: the real collapse in tests/real_collapses again): past its grace period, it stops
    on a finding about the dynamics, not LRD002, before that run's collapse onset (6,144)."""
    needs_sb3()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = next(block for block in readme.split("```python\n")[1:] if README_SNIPPET in block).split("```")[0]
    out = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=900, check=True,
                         cwd=ROOT).stdout
    lines = out.splitlines()
    assert lines[0].startswith("lrdoctor: LRD002 warning: constant LR 2e-02 on a recurrent LSTM policy")
    stop = next(line for line in lines if line.startswith("lrdoctor: stop at step "))
    code = stop.split(" on ")[-1]
    assert not rules.static(code) and code in {"LRD001", "LRD006", "LRD015"}
    assert any(line.startswith(f"lrdoctor: {code} ") for line in lines)
    step = int(stop.split("stop at step ")[1].split(" ")[0].replace(",", ""))
    assert 512 * 5 < step <= 6_144  # past the grace period (5 updates of 512 steps), by the onset
