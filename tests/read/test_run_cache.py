"""The run and findings cache: an unchanged sweep is neither read nor judged again, and what
comes from the cache is exactly what reading and judging give; anything changed or damaged
is recomputed."""

from __future__ import annotations

import functools
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

import lrdoctor.read.cache as cache
import lrdoctor.read.ingest as ingest
from lrdoctor.read import progress_csv
from lrdoctor.rules import engine
from lrdoctor.rules.options import Options, load_options
from tests.loaded_modules import modules_loaded_by
from tests.writers import synthetic_collapse, write_run

SAMPLE_LOGS = Path(__file__).resolve().parents[2] / "sample_logs"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def sweep(tmp_path):
    """SYNTHETIC: a collapsing GRU run (config beside it) and a copy of the sample logs."""
    root = tmp_path / "sweep"
    steps, metrics = synthetic_collapse()
    write_run(root / "gru_run", "sb3", steps, metrics)
    (root / "gru_run" / "config.json").write_text(json.dumps({"model": {"arch": "gru"}}))
    shutil.copytree(SAMPLE_LOGS, root / "samples", ignore=shutil.ignore_patterns("*.md"))
    return root


def analysed(root, options=None, use_cache=True):
    ingested = ingest.load([root], use_cache=use_cache, jobs=1)
    keys = ingested.keys if use_cache else ()
    return ingested, engine.analyze(ingested.runs, options or Options(), keys)


def assert_same_runs(a, b):
    assert [r.run.name for r in a] == [r.run.name for r in b]
    for x, y in zip(a, b):
        assert x.findings == y.findings
        assert x.run.metrics.keys() == y.run.metrics.keys()
        for name in x.run.metrics:
            pd.testing.assert_series_equal(x.run.metrics[name], y.run.metrics[name])
        for field in ("sources", "step_axis", "library", "architecture", "config", "lr_shape", "unknown_tags", "notes"):
            assert getattr(x.run, field) == getattr(y.run, field), field


def test_cached_sweep_equals_a_fresh_one_and_reads_and_judges_nothing(sweep, monkeypatch):
    _, fresh = analysed(sweep, use_cache=False)
    _, first = analysed(sweep)
    assert any(f.code == "LRD006" for r in fresh for f in r.findings)  # the cache holds real findings

    def forbidden(*args, **kwargs):
        raise AssertionError("read or judged again")

    monkeypatch.setattr(ingest, "_read_event_files", forbidden)
    monkeypatch.setattr(progress_csv, "read_progress_csv", forbidden)
    monkeypatch.setattr(engine, "findings_for", forbidden)
    _, second = analysed(sweep)
    assert_same_runs(fresh, first)
    assert_same_runs(fresh, second)


def test_a_changed_event_file_is_read_again(sweep):
    analysed(sweep)
    steps, metrics = synthetic_collapse()
    metrics["kl"] = metrics["kl"] * 0.1  # no longer over the threshold
    for path in (sweep / "gru_run").rglob("events.out.tfevents.*"):
        path.unlink()
    write_run(sweep / "gru_run", "sb3", steps, metrics)
    _, fresh = analysed(sweep, use_cache=False)
    _, cached = analysed(sweep)
    assert_same_runs(fresh, cached)
    gru = next(r for r in cached if r.run.name == "gru_run")
    assert not any(f.code == "LRD001" for f in gru.findings)


def test_a_changed_config_beside_the_run_is_seen(sweep):
    _, before = analysed(sweep)
    config = sweep / "gru_run" / "config.json"
    config.write_text(json.dumps({"model": {"arch": "mlp"}}))
    _, after = analysed(sweep)
    gru_before = next(r for r in before if r.run.name == "gru_run")
    gru_after = next(r for r in after if r.run.name == "gru_run")
    assert gru_before.run.architecture.recurrent is True and gru_after.run.architecture.recurrent is False
    assert any(f.code == "LRD002" for f in gru_before.findings)
    assert not any(f.code == "LRD002" for f in gru_after.findings)
    _, fresh = analysed(sweep, use_cache=False)
    assert_same_runs(fresh, after)


def test_other_options_are_judged_again(sweep):
    _, default = analysed(sweep)
    lenient = load_options(select=None, ignore=None, rule_settings={"kl-exceeded.threshold": "0.5"}, fail_on=None)
    _, fresh = analysed(sweep, lenient, use_cache=False)
    _, cached = analysed(sweep, lenient)
    assert_same_runs(fresh, cached)
    gru = [next(r for r in results if r.run.name == "gru_run") for results in (default, cached)]
    assert any(f.code == "LRD001" for f in gru[0].findings)
    assert not any(f.code == "LRD001" for f in gru[1].findings)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_a_damaged_entry_is_ignored(sweep, damage):
    _, fresh = analysed(sweep, use_cache=False)
    analysed(sweep)
    entries = list(cache.cache_dir().parent.glob("*/*.bin"))  # every kind of this version
    assert entries
    for entry in entries:
        data = bytearray(entry.read_bytes())
        if damage == "flip":
            data[len(data) // 2] ^= 0xFF
        elif damage == "truncate":
            data = data[: len(data) // 2]
        else:
            data = bytearray()
        entry.write_bytes(bytes(data))
    _, cached = analysed(sweep)
    assert_same_runs(fresh, cached)


def test_entries_are_keyed_on_lrdoctor_source(monkeypatch):
    key = cache.entry_key("run", "x")
    monkeypatch.setattr(cache, "code_digest", lambda: "another version")
    assert cache.entry_key("run", "x") != key


def test_findings_keep_tuples_and_dict_keys():
    value = {"band": (0.0, 0.01), "phases": [{"n": 1, 2: None}], "nested": ((1, "a"), [2.5])}
    assert cache._unpacked(json.loads(json.dumps(cache._packed(value)))) == value
    assert isinstance(cache._unpacked(cache._packed((1, 2))), tuple)


# What a cached re-analysis must not load: pandas is needed only to read a run or judge
# it (importing it costs more than the whole cached analysis of a 100-run sweep), the event
# reader and its CRC-32C only to read an event file, and the config linter only by
# `check` (configs beside runs are still read, by metadata.py). Checked by module, never by
# the clock.
NOT_LOADED_WHEN_CACHED = ("pandas", "matplotlib", "lrdoctor.read.events", "lrdoctor.read.crc", "bottleneck",
                          "lrdoctor.check")

@pytest.mark.parametrize("format", ["text", "json", "markdown", "sarif"])
def test_a_cached_reanalysis_loads_neither_pandas_nor_the_config_linter(sweep, tmp_path, format):
    def modules_of_analyze() -> set[str]:
        return modules_loaded_by("analyze", str(sweep), "--format", format, "-o", str(tmp_path / "report"),
                                 "--jobs", "1")

    first = modules_of_analyze()
    # the first analysis reads and judges the runs (proof the check can fail)
    assert {"lrdoctor.read.events", "lrdoctor.read.crc", "bottleneck"} <= first
    report = (tmp_path / "report").read_text()
    second = modules_of_analyze()
    assert (tmp_path / "report").read_text() == report
    assert not [name for name in NOT_LOADED_WHEN_CACHED if name in second]


def test_over_its_bound_the_cache_drops_other_sweeps_and_keeps_the_one_analysed(sweep, tmp_path, monkeypatch):
    other = shutil.copytree(SAMPLE_LOGS, tmp_path / "other", ignore=shutil.ignore_patterns("*.md"))
    analysed(other)
    older = set(cache.cache_dir().parent.glob("*/*.bin"))
    for entry in older:  # last used a minute ago
        os.utime(entry, (entry.stat().st_atime - 60, entry.stat().st_mtime - 60))
    _, fresh = analysed(sweep, use_cache=False)
    monkeypatch.setenv("LRDOCTOR_CACHE_MAX_MB", "0.05")  # far less than one sweep
    analysed(sweep)
    kept = set(cache.cache_dir().parent.glob("*/*.bin"))
    assert kept and not kept & older  # the other sweep is gone, this one stays whole

    def forbidden(*args, **kwargs):
        raise AssertionError("read again")

    monkeypatch.setattr(ingest, "_read_event_files", forbidden)
    _, cached = analysed(sweep)  # and is served from the cache again, not thrashed
    assert_same_runs(fresh, cached)


def test_the_code_digest_changes_with_a_rule(monkeypatch):
    """Cached findings are keyed on the code that judged them, and a rule lives in rules/, not
    beside the cache in read/: changing it must change the digest."""
    from lrdoctor.rules import kl_exceeded

    digest = getattr(cache.code_digest, "__wrapped__", cache.code_digest)
    before = digest()
    rule = Path(kl_exceeded.__file__).resolve()
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: real(self) + (b"# changed" if self == rule else b""))
    assert digest() != before


def _entries(kind: str) -> list[Path]:
    return sorted((cache.cache_dir().parent / kind).glob("*.bin"))


def test_each_runs_points_are_stored_once(sweep):
    """A run entry refers to its event files' entries for the points it shares with them:
    the cache holds each point once, and a re-run from those references equals a fresh read."""
    _, fresh = analysed(sweep, use_cache=False)
    analysed(sweep)
    runs = [cache.load_entry("runs", path.stem) for path in _entries("runs")]
    assert runs and all(header["shared"] for header, _ in runs)
    event_bytes = sum(path.stat().st_size for path in _entries("events"))
    run_bytes = sum(path.stat().st_size for path in _entries("runs"))
    assert run_bytes < event_bytes / 10  # before, each run entry held its event files' points again
    for header, arrays in runs:  # what a run entry still holds are points no event entry holds
        assert len(arrays) == 2 * (len(header["metrics"]) - len(header["shared"]))
    _, again = analysed(sweep)
    assert_same_runs(fresh, again)


def test_a_run_whose_shared_event_entry_is_gone_or_replaced_is_read_again(sweep, monkeypatch):
    _, fresh = analysed(sweep, use_cache=False)
    analysed(sweep)
    events = _entries("events")
    events[0].unlink()  # pruned, say
    events[1].write_bytes(events[1].read_bytes()[:-8])  # damaged
    reads = []
    original = ingest._read_event_files
    monkeypatch.setattr(ingest, "_read_event_files", lambda *a, **k: reads.append(a) or original(*a, **k))
    _, again = analysed(sweep)
    assert len(reads) >= 2  # the runs of those entries were read again, not served half
    assert_same_runs(fresh, again)


def _flip_in_array(entry: Path, name: str) -> None:
    """Flip one byte inside array ``name`` of an entry (magic, header length, header CRC,
    header, then the arrays in the header's order): the header stays intact."""
    data = bytearray(entry.read_bytes())
    header_size = int.from_bytes(data[8:16], "little")
    offset = 20 + header_size
    for array, _, count, _ in json.loads(bytes(data[20:20 + header_size]))["arrays"]:
        if array == name:
            data[offset + 8 * (count // 2) + 3] ^= 0x40
            entry.write_bytes(bytes(data))
            return
        offset += 8 * count
    raise AssertionError(f"no array {name} in {entry}")


def _flip_tag(tag: str) -> int:
    """Damage ``tag``'s values in every event entry that holds it; how many were damaged."""
    damaged = 0
    for entry in _entries("events"):
        header, _ = cache.load_entry("events", entry.stem)
        if tag in header["tags"]:
            _flip_in_array(entry, f"values{header['tags'].index(tag)}")
            damaged += 1
    return damaged


def judged_sweep(root, keep_points=False):
    """As ``analyze`` loads a sweep: each run judged where it is read, from the caches when it can be."""
    judge = functools.partial(engine.judged, options=Options(), keep_points=keep_points)
    return ingest.load([root], jobs=1, judge=judge)


def _counting_reads(monkeypatch) -> list:
    reads, original = [], ingest._read_event_files
    monkeypatch.setattr(ingest, "_read_event_files", lambda *a, **k: reads.append(a) or original(*a, **k))
    return reads


def test_an_arrays_crc_is_checked_when_it_is_used(sweep):
    analysed(sweep)
    entry = next(path for path in _entries("events") if len(cache.load_entry("events", path.stem)[1]) >= 4)
    _flip_in_array(entry, "values1")
    _, arrays = cache.load_entry("events", entry.stem)  # the header is intact: the entry loads
    assert len(arrays["steps0"]) and len(arrays["values0"])
    with pytest.raises(cache.DamagedEntry):
        arrays["values1"]


def test_a_damaged_kl_in_a_cached_run_is_found_and_the_run_read_again(sweep, monkeypatch):
    fresh = judged_sweep(sweep)  # fills the caches
    assert _flip_tag("train/approx_kl")
    reads = _counting_reads(monkeypatch)
    again = judged_sweep(sweep)
    assert reads  # the KL is what a report of cached findings prints: checked, found, read again
    assert [(r.run.name, r.findings) for r in again.results] == [(r.run.name, r.findings) for r in fresh.results]
    for ours, theirs in zip(again.results, fresh.results):
        kl = [ours.run.metrics.points("kl"), theirs.run.metrics.points("kl")]
        assert [a.tobytes() for a in kl[0]] == [a.tobytes() for a in kl[1]]


def test_a_damaged_metric_is_not_read_when_only_its_extent_is_used_and_is_found_when_its_points_are(sweep, monkeypatch):
    fresh = judged_sweep(sweep, keep_points=True)
    assert _flip_tag("rollout/ep_rew_mean")
    reads = _counting_reads(monkeypatch)
    summarised = judged_sweep(sweep)  # cached findings: the return's extent from the checked header
    assert not reads
    assert [(r.run.name, r.findings) for r in summarised.results] == [(r.run.name, r.findings) for r in fresh.results]
    for ours, theirs in zip(summarised.results, fresh.results):
        extents = [[result.run.metrics.extent(m) for m in result.run.metrics] for result in (ours, theirs)]
        assert extents[0] == extents[1]
    whole = judged_sweep(sweep, keep_points=True)  # figures need every point: checked, found, read again
    assert reads
    for ours, theirs in zip(whole.results, fresh.results):
        assert_same_runs([ours], [theirs])
