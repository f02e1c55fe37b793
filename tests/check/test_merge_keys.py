"""YAML merge keys (``<<: *default``): each unit is located at its own entry (issue 16)."""

from __future__ import annotations

from lrdoctor.check import check_text
from lrdoctor.rules.options import default_options

ZOO = """\
default: &default
  policy: MlpLstmPolicy
  n_timesteps: !!float 1e6
  learning_rate: lin_3e-4
  target_kl: 0.02

CartPole-v1:
  <<: *default
  n_envs: 8

Acrobot-v1:  # lrdoctor: ignore[LRD003]
  <<: *default
  n_envs: 4

Pendulum-v1:
  <<: *default
  learning_rate: 1.0e-3
"""


def found(text: str):
    return sorted((f.evidence["unit"], f.code, f.line, f.column) for f in check_text("zoo.yml", text,
                                                                                    default_options()).findings)


def test_a_merged_value_is_reported_at_the_units_own_merge_key():
    assert found(ZOO) == [("CartPole-v1", "LRD003", 8, 3), ("Pendulum-v1", "LRD002", 17, 3)]


def test_the_message_says_where_the_inherited_value_is_written():
    (lrd003,) = [f for f in check_text("zoo.yml", ZOO, default_options()).findings if f.code == "LRD003"]
    assert "learning_rate inherited from line 4" in lrd003.message
    assert lrd003.evidence["origin"] == "line 4"


def test_an_ignore_comment_covers_its_own_unit_only():
    unignored = ZOO.replace("  # lrdoctor: ignore[LRD003]", "")
    assert ("Acrobot-v1", "LRD003", 12, 3) in found(unignored)
    assert ("Acrobot-v1", "LRD003", 12, 3) not in found(ZOO)


def test_the_merged_from_template_is_not_a_unit_of_its_own():
    result = check_text("zoo.yml", ZOO, default_options())
    assert result.units == 3
    assert all(f.evidence["unit"] != "default" for f in result.findings)


def test_an_explicit_key_after_the_merge_is_the_units_own():
    (lrd002,) = [f for f in check_text("zoo.yml", ZOO, default_options()).findings if f.code == "LRD002"]
    assert "inherited" not in lrd002.message and "origin" not in lrd002.evidence
