import numpy as np

from lrdoctor.read.normalise import merge_files, merge_notes, merge_parts, normalise
from lrdoctor.read.tags import override_rules, wanted_pattern


def pts(steps, values):
    return np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)


def test_later_file_wins_from_its_first_step_on():
    steps, values = merge_parts([pts([1, 2, 3, 4], [1, 2, 3, 4]), pts([3, 5], [30, 50])])
    assert steps.tolist() == [1, 2, 3, 5]
    assert values.tolist() == [1, 2, 30, 50]


def test_repeated_step_within_a_file_keeps_last_and_nan_is_kept():
    steps, values = merge_parts([pts([2, 1, 2], [np.nan, 1.0, np.inf])])
    assert steps.tolist() == [1, 2] and values[1] == np.inf
    steps, values = merge_parts([pts([1, 2], [np.nan, 2.0])])
    assert np.isnan(values[0])


def test_merge_files_keeps_tags_seen_in_one_file_only():
    merged = merge_files([{"a": pts([1], [1])}, {"b": pts([2], [2])}])
    assert set(merged) == {"a", "b"}


def test_sb3_entropy_negated_and_sources_recorded():
    scalars = {"train/entropy_loss": pts([10, 20], [-1.2, -1.4]), "train/approx_kl": pts([10, 20], [0.01, 0.03])}
    result = normalise(scalars, [*scalars, "time/fps"], wanted_pattern())
    assert result.library == "sb3" and result.step_axis == "env steps"
    assert result.metrics["entropy"].tolist() == [1.2, 1.4]
    assert result.sources["entropy"].negated and result.sources["kl"].estimator == "k3"
    assert result.unknown_tags == ("time/fps",)
    assert str(result.metrics["kl"].index.dtype) == "int64"


def test_override_wins_and_missing_override_is_noted():
    scalars = {"train/approx_kl": pts([1], [0.01]), "my/kl": pts([1], [0.5])}
    rules = override_rules({"kl": "my/kl", "lr": "nope/lr"})
    result = normalise(scalars, list(scalars), wanted_pattern(rules), rules)
    assert result.metrics["kl"].tolist() == [0.5] and result.sources["kl"].library == "--tag"
    assert any("nope/lr" in note.message for note in result.notes)


def test_rllib_step_axis_read_from_timesteps_total():
    kl = "ray/tune/info/learner/default_policy/learner_stats/kl"
    with_ts = {kl: pts([4000, 8000], [0.01, 0.02]), "ray/tune/timesteps_total": pts([4000, 8000], [4000, 8000])}
    assert normalise(with_ts, list(with_ts), wanted_pattern()).step_axis == "timesteps_total"
    without = {kl: pts([1, 2], [0.01, 0.02])}
    assert normalise(without, list(without), wanted_pattern()).step_axis == "training_iteration"


def test_no_known_tags_is_said():
    result = normalise({}, ["foo/bar"], wanted_pattern())
    assert not result.metrics and result.library is None
    assert "no known tags" in result.notes[0].message


def test_merging_notes_what_it_does_to_odd_data():
    first = {"kl": pts([0, 1, 2, 3], [1, 1, 1, 1]), "lr": pts([0, 1, 2, 3], [1, 1, 1, 1])}
    resumed = {"kl": pts([2, 3, 4], [2, 2, 2]), "lr": pts([2, 3, 2, 4], [2, 2, 2, 2])}
    notes = merge_notes([first, resumed], ["a", "b"])
    assert [(n.path, n.message) for n in notes] == [
        ("a", "overlaps b, which resumes at step 2: the later file is used from there (4 points of this one dropped)"),
        ("b", "steps go backwards in 1 of 2 tags (first lr: 2 after 3); points are used in step order"),
        ("b", "1 repeated step in 1 of 2 tags (first lr); the value written last is used"),
    ]


def test_restarts_that_follow_each_other_are_not_noted():
    first, then = {"kl": pts([0, 1, 2], [1, 1, 1])}, {"kl": pts([3, 4], [1, 1])}
    assert merge_notes([first, then], ["a", "b"]) == []
