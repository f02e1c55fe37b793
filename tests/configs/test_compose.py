"""Hydra composition, statically: defaults order, groups, interpolations, and what is refused."""

from __future__ import annotations

from pathlib import Path

from lrdoctor.configs.compose import read_document


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def composed(path: Path):
    document = read_document(path, path.read_text())
    return document.roots[0], document


def test_self_last_by_default_wins_and_self_first_loses(tmp_path):
    write(tmp_path, "base.yaml", "lr: 1.0e-4\nschedule: adaptive\n")
    last = write(tmp_path, "last.yaml", "defaults:\n  - base\nlr: 3.0e-4\n")
    first = write(tmp_path, "first.yaml", "defaults:\n  - _self_\n  - base\nlr: 3.0e-4\n")
    assert composed(last)[0] == {"lr": 3.0e-4, "schedule": "adaptive"}
    assert composed(first)[0] == {"lr": 1.0e-4, "schedule": "adaptive"}


def test_an_inherited_key_is_at_the_defaults_entry_and_names_the_parents_line(tmp_path):
    write(tmp_path, "base.yaml", "# parent\nnested:\n  lr: 1.0e-4\n")
    child = write(tmp_path, "child.yaml", "defaults:\n  - base\n  - _self_\nown: 1\n")
    data, document = composed(child)
    assert data == {"nested": {"lr": 1.0e-4}, "own": 1}
    assert document.where((0, "nested", "lr")) == (2, 5)
    assert document.origins[(0, "nested", "lr")] == ("base.yaml", 3)
    assert (0, "own") not in document.origins


def test_a_group_entry_is_found_above_the_file_and_placed_under_its_group(tmp_path):
    write(tmp_path, "cfg/task/Ant.yaml", "env:\n  numEnvs: 64\n")
    top = write(tmp_path, "cfg/train/top.yaml", "defaults:\n  - /task: Ant\n  - _self_\nn: ${task.env.numEnvs}\n")
    assert composed(top)[0] == {"task": {"env": {"numEnvs": 64}}, "n": 64}


def test_lists_are_replaced_not_merged(tmp_path):
    write(tmp_path, "base.yaml", "units: [256, 128, 64]\n")
    child = write(tmp_path, "child.yaml", "defaults: [base]\nunits: [32]\n")
    assert composed(child)[0] == {"units": [32]}


def test_what_cannot_be_composed_is_listed_never_guessed(tmp_path):
    write(tmp_path, "loop.yaml", "defaults: [loop2]\n")
    write(tmp_path, "loop2.yaml", "defaults: [loop]\n")
    child = write(tmp_path, "child.yaml", (
        "defaults:\n  - missing\n  - ../../etc/passwd\n  - loop\n  - optional extra: none\n  - train: ${task}PPO\n"
        "lr: ${resolve_default:3e-4,${lr_override}}\nenv_lr: ${oc.env:HOME}\nnope: ${not.here}\n"))
    data, document = composed(child)
    reasons = [reason for _, reason in document.extras["not_composed"]]
    assert any("missing.yaml is not beside this file" in r for r in reasons)
    assert any("leaves the config tree" in r for r in reasons)
    assert any("includes itself" in r for r in reasons)
    assert any("chosen at run time" in r for r in reasons)
    assert not any("extra" in r for r in reasons)  # optional and absent is fine
    assert any("needs the resolver resolve_default" in r for r in reasons)
    assert any("needs the resolver oc.env" in r for r in reasons)
    assert any("not.here" in r and "not in this config" in r for r in reasons)
    assert data["env_lr"] == "${oc.env:HOME}"  # the environment is never read


def test_a_parent_that_leads_outside_the_searched_directories_is_not_read(tmp_path):
    outside = tmp_path / "outside"
    write(outside, "secret.yaml", "lr: 1\n")
    far = write(tmp_path / "x" / "y" / "z" / "w" / "v", "child.yaml", "defaults: [link]\n")
    (far.parent / "link.yaml").symlink_to(outside / "secret.yaml")
    data, document = composed(far)
    assert "lr" not in data
    assert "link.yaml is not beside this file" in document.extras["not_composed"][0][1]


def test_an_absolute_entry_is_looked_up_from_the_directories_above(tmp_path):
    write(tmp_path, "cfg/base/ppo.yaml", "lr: 1.0e-4\n")
    child = write(tmp_path, "cfg/train/child.yaml", "defaults:\n  - /base/ppo\n  - _self_\nown: 1\n")
    assert composed(child)[0] == {"lr": 1.0e-4, "own": 1}
