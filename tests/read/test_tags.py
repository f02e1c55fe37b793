import pytest
from writers import TAGS

from lrdoctor.read.tags import LIBRARY_BY_NAME, choose_library, map_tags, override_rules, wanted_pattern

LIBRARY_OF = {
    "sb3": "sb3",
    "cleanrl": "cleanrl",
    "rllib_old": "rllib",
    "rllib_new": "rllib",
    "sample_factory": "sample-factory",
    "rl_games": "rl_games",
    "skrl": "skrl",
    "tianshou": "tianshou",
    "torchrl": "torchrl",
    "npp_rl": "npp-rl",
}


@pytest.mark.parametrize("writer_name, library", sorted(LIBRARY_OF.items()))
def test_each_library_is_recognised_and_every_written_tag_mapped(writer_name, library):
    tags = [tag for tag, _ in TAGS[writer_name].values()]
    assert choose_library(tags).name == library
    chosen = map_tags(tags, LIBRARY_BY_NAME[library].rules)
    assert {m: c.tag for m, c in chosen.items()} == {m: t for m, (t, _) in TAGS[writer_name].items()}
    for metric, (_, sign) in TAGS[writer_name].items():
        assert chosen[metric].rule.negated == (sign < 0)


def test_rllib_any_policy_id_and_default_preferred():
    tags = [
        "ray/tune/info/learner/zeta/learner_stats/kl",
        "ray/tune/info/learner/default_policy/learner_stats/kl",
    ]
    choice = map_tags(tags, LIBRARY_BY_NAME["rllib"].rules)["kl"]
    assert choice.tag.endswith("default_policy/learner_stats/kl")
    assert choice.alternatives == ("ray/tune/info/learner/zeta/learner_stats/kl",)
    assert choice.rule.estimator == "analytic"


def test_kl_estimators():
    assert map_tags(["train/approx_kl"], LIBRARY_BY_NAME["sb3"].rules)["kl"].rule.estimator == "k3"
    assert map_tags(["losses/old_approx_kl"], LIBRARY_BY_NAME["cleanrl"].rules)["kl"].rule.estimator == "k1"
    both = map_tags(["losses/old_approx_kl", "losses/approx_kl"], LIBRARY_BY_NAME["cleanrl"].rules)
    assert both["kl"].tag == "losses/approx_kl"


def test_skrl_tags_with_spaces_or_tensorboardx_underscores():
    rules = LIBRARY_BY_NAME["skrl"].rules
    assert "entropy" in map_tags(["Loss / Entropy loss"], rules)
    assert "episode_return" in map_tags(["Reward_/_Total_reward__mean_"], rules)


def test_overrides_are_literal_and_can_negate():
    (plain,) = override_rules({"kl": "my/kl.v2"})
    assert not plain.negated and map_tags(["my/kl.v2", "my/klXv2"], [plain])["kl"].tag == "my/kl.v2"
    (negated,) = override_rules({"entropy": "-my/ent_loss"})
    assert negated.negated and map_tags(["my/ent_loss"], [negated])["entropy"].tag == "my/ent_loss"


def test_a_plain_name_in_a_table_matches_that_whole_name_only():
    rules = LIBRARY_BY_NAME["sb3"].rules  # plain names: compared as strings, not compiled
    assert map_tags(["train/approx_kl"], rules)["kl"].tag == "train/approx_kl"
    assert map_tags(["train/approx_kl_2", "x/train/approx_kl", "train/approx_kL"], rules) == {}
    (special,) = override_rules({"kl": "my/kl(v2)|x"})  # escaped: a regex of the literal name
    assert map_tags(["my/kl(v2)|x", "x", "my/klv2"], [special])["kl"].tag == "my/kl(v2)|x"


def test_wanted_pattern_selects_known_tags_only():
    want = wanted_pattern(override_rules({"kl": "custom/kl"}))
    assert want.fullmatch("train/approx_kl") and want.fullmatch("custom/kl")
    assert not want.fullmatch("time/fps")


def test_a_mapping_is_remembered_per_tag_set_but_each_caller_gets_its_own_dict():
    rules = LIBRARY_BY_NAME["sb3"].rules
    tags = ["train/approx_kl", "train/entropy_loss", "train/learning_rate"]
    first = map_tags(tags, rules)
    first.pop("kl")
    first["kl"] = None
    again = map_tags(reversed(tags), rules)  # the same set in another order: the same answer
    assert again["kl"].tag == "train/approx_kl"
    assert again == map_tags(set(tags), rules)
