"""What every analyze pays for before reading: only what it needs. A sweep of plain event
files with no config beside it loads neither protobuf (the opening file_version record is
recognised without it), nor ruamel (no YAML file was read), nor the
progress bar's module (stderr is not a terminal), nor importlib.metadata for lrdoctor's own
version, nor pydantic (options are coerced without it: ``cli.values``). Checked by module,
never by the clock."""

from __future__ import annotations

from tests.loaded_modules import modules_loaded_by
from tests.writers import write_tags

# (tomllib is not listed: the tests run in a checkout, whose pyproject.toml analyze reads for [tool.lrdoctor].)
NOT_NEEDED = ("google.protobuf", "tensorboard.compat.proto", "ruamel.yaml", "rich.progress", "pydantic")


def test_an_analysis_of_plain_event_files_loads_only_what_it_reads(tmp_path):
    write_tags(tmp_path / "sweep" / "run1", range(0, 2000, 100), {"train/approx_kl": [0.01] * 20})
    modules = modules_loaded_by("analyze", str(tmp_path / "sweep"), "--jobs", "1", "--no-cache",
                                "-o", str(tmp_path / "report"), env={"LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")})
    assert "lrdoctor.read.events" in modules  # proof the list is of a real read
    assert not [name for name in NOT_NEEDED if name in modules]


def test_a_yaml_config_beside_a_run_is_still_read(tmp_path):
    run = tmp_path / "sweep" / "run1"
    write_tags(run, range(0, 2000, 100), {"train/approx_kl": [0.01] * 20})
    (run / "config.yaml").write_text("policy: {arch: gru}\n")
    modules = modules_loaded_by("analyze", str(tmp_path / "sweep"), "--jobs", "1", "--no-cache", "--format", "json",
                                "-o", str(tmp_path / "report.json"), env={"LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")})
    assert "ruamel.yaml" in modules
    assert '"recurrent": true' in (tmp_path / "report.json").read_text()
