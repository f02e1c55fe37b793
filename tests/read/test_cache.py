"""The event cache: hits read nothing, growth reads only the new part, anything odd rebuilds."""

from __future__ import annotations

import os
import re
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from tensorboardX import SummaryWriter

import lrdoctor.read.cache as cache
from lrdoctor.read.cache import cache_dir, read_events
from lrdoctor.read.events import read_event_file
from tests.bad_input import AS_ROOT, give_to_another_user, writable_by_others
from tests.loaded_modules import ROOT, modules_loaded_by


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def reads(monkeypatch):
    """Record every (path, start) the real reader is asked for."""
    calls = []

    def spy(path, want=None, start=0):
        calls.append(start)
        return read_event_file(path, want, start)

    monkeypatch.setattr("lrdoctor.read.events.read_event_file", spy)
    return calls


def write_events(directory, steps, tag="train/approx_kl"):
    writer = SummaryWriter(str(directory / "run"))
    for step in steps:
        writer.add_scalar(tag, 0.01 * step, global_step=step)
        writer.add_scalar("train/learning_rate", 3e-4, global_step=step)
    writer.close()
    return next((directory / "run").glob("events.out.tfevents.*"))


def record_ends(data: bytes) -> list[int]:
    ends, offset = [], 0
    while offset + 12 <= len(data):
        offset += 16 + struct.unpack_from("<Q", data, offset)[0]
        ends.append(offset)
    return ends


def same(a, b):
    assert a.scalar_tags == b.scalar_tags and a.end_offset == b.end_offset and a.notes == b.notes
    assert a.scalars.keys() == b.scalars.keys()
    for tag in a.scalars:
        np.testing.assert_array_equal(a.scalars[tag][0], b.scalars[tag][0])
        np.testing.assert_array_equal(a.scalars[tag][1], b.scalars[tag][1])


def test_cache_lives_in_the_cache_dir_not_beside_the_run(tmp_path):
    path = write_events(tmp_path, range(5))
    read_events(path)
    assert list(cache_dir().glob("*.bin")) and cache_dir().is_relative_to(tmp_path / "cache")
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.mark.parametrize("configured", [None, ""])
def test_without_a_configured_folder_the_cache_is_the_users_cache_folder(monkeypatch, configured):
    from platformdirs import user_cache_dir

    if configured is None:
        monkeypatch.delenv("LRDOCTOR_CACHE_DIR", raising=False)
    else:
        monkeypatch.setenv("LRDOCTOR_CACHE_DIR", configured)
    assert cache_dir().parent.parent == Path(user_cache_dir("lrdoctor"))


def test_a_configured_folder_is_used_without_looking_up_the_users(tmp_path):
    run = ROOT / "sample_logs" / "graph_free_gru_constant_lr"
    modules = modules_loaded_by("analyze", str(run), "--format", "json", "-o", str(tmp_path / "report.json"),
                                env={"LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")})
    assert "lrdoctor.read.cache" in modules and "platformdirs" not in modules
    assert list((tmp_path / "cache").glob("lrdoctor-cache-v*/runs/*.bin"))


def test_unchanged_file_is_not_read_again(tmp_path, reads):
    path = write_events(tmp_path, range(50))
    first = read_events(path)
    second = read_events(path)
    assert reads == [0]
    same(first, second)
    same(second, read_event_file(path))


def test_want_and_no_cache_are_honoured(tmp_path, reads):
    path = write_events(tmp_path, range(5))
    kl = re.compile("train/approx_kl")
    assert set(read_events(path, kl).scalars) == {"train/approx_kl"}
    assert set(read_events(path).scalars) == {"train/approx_kl", "train/learning_rate"}
    read_events(path, kl, use_cache=False)
    assert reads == [0, 0, 0] and len(list(cache_dir().glob("*.bin"))) == 2


def test_grown_file_is_read_from_where_it_stopped(tmp_path, reads):
    path = write_events(tmp_path, range(40))
    full = path.read_bytes()
    cut = record_ends(full)[30] + 5  # a live run: the last record is half written
    path.write_bytes(full[:cut])
    first = read_events(path)
    assert len(first.notes) == 1 and "bytes skipped" in first.notes[0].message
    path.write_bytes(full)
    os.utime(path, ns=(1, 1))  # a new mtime, as the writer would leave
    grown = read_events(path)
    assert reads == [0, first.end_offset]
    same(grown, read_event_file(path))
    assert grown.notes == []


def test_rewritten_or_shrunk_file_is_read_again(tmp_path, reads):
    path = write_events(tmp_path, range(40))
    read_events(path)
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF  # same size, new content
    path.write_bytes(bytes(data) + b"")
    os.utime(path, ns=(2, 2))
    read_events(path)
    path.write_bytes(bytes(data[: len(data) // 2]))
    shrunk = read_events(path)
    assert reads == [0, 0, 0]
    same(shrunk, read_event_file(path))


def test_replaced_file_that_grew_is_read_in_full(tmp_path, reads):
    path = write_events(tmp_path, range(10))
    read_events(path)
    other = write_events(tmp_path / "other", range(100), tag="train/entropy_loss")
    path.write_bytes(other.read_bytes())
    result = read_events(path)
    assert reads == [0, 0] and "train/approx_kl" not in result.scalars


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # truncated
        lambda b: b"garbage" * 10,  # not an entry
        lambda b: b.replace(b"lrdoctor", b"lrdoktor"),  # another key (version) inside
        lambda b: b"",  # empty
    ],
)
def test_corrupt_entry_is_ignored_and_rebuilt(tmp_path, reads, damage):
    path = write_events(tmp_path, range(30))
    expected = read_events(path)
    (entry,) = cache_dir().glob("*.bin")
    entry.write_bytes(damage(entry.read_bytes()))
    same(read_events(path), expected)
    assert reads == [0, 0]
    read_events(path)
    assert reads == [0, 0]  # rebuilt, then used


def test_entry_of_another_version_is_not_used(tmp_path, reads, monkeypatch):
    path = write_events(tmp_path, range(5))
    read_events(path)
    monkeypatch.setattr(cache, "VERSION", "999")
    read_events(path)
    assert reads == [0, 0]


def test_unwritable_cache_dir_degrades_to_no_cache(tmp_path, reads, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(blocker))
    path = write_events(tmp_path, range(5))
    same(read_events(path), read_event_file(path))
    read_events(path)
    assert reads == [0, 0]


# --- the size bound -------------------------------------------------------------------


def entries() -> dict[str, int]:
    """Every entry file of the cache (all kinds), by name, with its size."""
    return {p.name: p.stat().st_size for p in cache_dir().parent.glob("*/*.bin")}


def set_last_used(path, seconds_ago: float) -> None:
    when = int((os.path.getmtime(path) - seconds_ago) * 1e9)
    os.utime(path, ns=(when, when))


def cached_entry_of(event_file) -> str:
    before = set(entries())
    read_events(event_file)
    (name,) = set(entries()) - before
    return name


def test_prune_removes_the_least_recently_used_entries_first(tmp_path):
    names = [cached_entry_of(write_events(tmp_path / f"r{i}", range(20 + i))) for i in range(3)]
    for age, name in zip((300, 200, 100), names):
        set_last_used(cache_dir() / name, age)
    sizes = entries()
    freed = cache.prune(sizes[names[1]] + sizes[names[2]], in_use_since=time.time_ns())
    assert freed == sizes[names[0]] and set(entries()) == {names[1], names[2]}


def test_an_entry_read_again_is_kept_over_one_not_used(tmp_path):
    files = [write_events(tmp_path / f"r{i}", range(30)) for i in range(2)]
    old, other = (cached_entry_of(path) for path in files)
    set_last_used(cache_dir() / old, 300)
    set_last_used(cache_dir() / other, 200)
    started = time.time_ns() - 50 * 10**9  # an analysis that began after both were last used
    read_events(files[0])  # a hit: the oldest entry becomes the most recently used
    cache.prune(0, in_use_since=started)
    assert set(entries()) == {old}  # over the bound, but in use by this analysis


def test_prune_within_the_bound_removes_only_temporaries_left_by_a_crash(tmp_path):
    cached_entry_of(write_events(tmp_path, range(10)))
    # named and begun as the cache begins its own temporaries (a user's *.tmp is not one)
    stale, fresh = cache_dir() / ".lrdoctor-stale.tmp", cache_dir() / ".lrdoctor-fresh.tmp"
    stale.write_bytes(cache.ENTRY_MAGIC + b"x" * 92)
    fresh.write_bytes(cache.ENTRY_MAGIC + b"x" * 92)
    set_last_used(stale, 2 * 3600)
    kept = entries()
    assert cache.prune(10**9, in_use_since=time.time_ns()) == 100
    assert entries() == kept and fresh.exists() and not stale.exists()


def test_what_the_running_analysis_used_is_kept_even_over_the_bound(tmp_path):
    old = cached_entry_of(write_events(tmp_path / "old", range(40)))
    set_last_used(cache_dir() / old, 600)
    started = time.time_ns()
    new = cached_entry_of(write_events(tmp_path / "new", range(40)))
    cache.prune(0, in_use_since=started)
    assert set(entries()) == {new}


@pytest.mark.parametrize(
    "text, expected", [("", cache.DEFAULT_MAX_MB << 20), ("0", 0), ("1.5", 3 << 19), ("1073741824", 1 << 50)]
)
def test_the_bound_comes_from_the_environment(monkeypatch, text, expected):
    monkeypatch.setenv("LRDOCTOR_CACHE_MAX_MB", text)
    assert cache.max_bytes() == expected


@pytest.mark.parametrize("text", ["abc", "-1", "inf", "nan", "1e308", "1073741825"])
def test_a_bound_that_is_not_a_size_is_an_input_error(monkeypatch, text):
    monkeypatch.setenv("LRDOCTOR_CACHE_MAX_MB", text)
    with pytest.raises(cache.InputError, match=f"LRDOCTOR_CACHE_MAX_MB={re.escape(text)}: expected a size"):
        cache.max_bytes()


# --- what the cache owns, and when an entry is stale (issue 14) -------------------------


def user_files(root) -> dict:
    """A user's files where LRDOCTOR_CACHE_DIR is a shared folder (~/.cache, /tmp, a CI cache):
    beside the cache's folder, inside it, and inside its entry folders, old enough to prune."""
    folder = cache_dir().parent
    files = {
        root / "model.bin": b"weights",
        root / "notes.tmp": b"my notes",
        root / "other-tool" / "big.bin": b"x" * 5000,
        folder / "model.bin": b"weights",
        cache_dir() / "model.bin": b"weights",
        cache_dir() / ("0" * 64 + ".bin"): b"named like an entry, not one",
        cache_dir() / ".lrdoctor-abc.tmp": b"named like a temporary, not one",
        cache_dir() / "copy-of-an-entry.bin": cache.ENTRY_MAGIC + b"an entry's header, not an entry's name",
        folder / "runs" / "notes.tmp": b"my notes",
        root / "lrdoctor-cache-vX" / "events" / ("1" * 64 + ".bin"): cache.ENTRY_MAGIC,
    }
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, ns=(10**9, 10**9))  # 1970: older than any entry, and than an hour
    return {path: (content, 10**9) for path, content in files.items()}


def test_prune_deletes_only_what_the_cache_wrote(tmp_path):
    root = tmp_path / "cache"  # LRDOCTOR_CACHE_DIR
    ours = [cached_entry_of(write_events(tmp_path / f"r{i}", range(20))) for i in range(2)]
    crashed = cache_dir() / ".lrdoctor-crashed.tmp"  # a temporary a killed process left
    crashed.write_bytes(cache.ENTRY_MAGIC + b"half an entry")
    theirs = user_files(root)
    for name in ours:
        set_last_used(cache_dir() / name, 600)
    set_last_used(crashed, 2 * 3600)
    cache.prune(0, in_use_since=time.time_ns())  # over any bound: everything of ours may go
    assert not set(ours) & set(entries()) and not crashed.exists()
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in theirs} == theirs


def test_a_file_rewritten_with_its_old_size_and_mtime_is_read_again(tmp_path, reads):
    from bad_input import rewrite_scalar

    path = write_events(tmp_path, range(50))
    before = path.stat()
    assert read_events(path).scalars["train/approx_kl"][1][25] == pytest.approx(0.25)
    rewrite_scalar(path, "train/approx_kl", 25, 0.5)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # `touch -r`, rsync --times
    now = path.stat()
    assert (now.st_size, now.st_mtime_ns, now.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    assert now.st_ctime_ns != before.st_ctime_ns  # what still tells the rewrite apart
    again = read_events(path)
    assert reads == [0, 0] and again.scalars["train/approx_kl"][1][25] == pytest.approx(0.5)
    same(again, read_event_file(path))


def test_a_file_rewritten_in_the_middle_then_grown_is_read_in_full(tmp_path, reads):
    """Its first and last 4 KB are what they were: only a CRC of the whole prefix tells."""
    from bad_input import append_scalar, rewrite_scalar

    path = write_events(tmp_path, range(1000))
    size = path.stat().st_size
    read_events(path)
    start, end = rewrite_scalar(path, "train/approx_kl", 500, 0.5)
    assert 4096 < start and end < size - 4096
    append_scalar(path, "train/approx_kl", 1000, 0.01)
    again = read_events(path)
    assert reads == [0, 0] and again.scalars["train/approx_kl"][1][500] == pytest.approx(0.5)
    same(again, read_event_file(path))


def test_a_fifo_where_an_entry_belongs_is_ignored_not_waited_on(tmp_path, reads):
    """A shared cache directory: anyone may put a FIFO at an entry's (predictable) path."""
    import threading

    path = write_events(tmp_path, range(30))
    expected = read_events(path)
    (entry,) = cache_dir().glob("*.bin")
    entry.unlink()
    os.mkfifo(entry)
    done = []
    reader = threading.Thread(target=lambda: done.append(read_events(path)), daemon=True)
    reader.start()
    reader.join(10)
    assert done, "read_events waited on a FIFO"
    same(done[0], expected)
    assert reads == [0, 0]


def test_an_entry_others_may_write_is_not_served_and_is_rebuilt_as_this_user_s_alone(tmp_path, reads):
    """A shared cache folder: an entry's path is predictable, and anyone who may write the
    file may make it a well-formed entry holding numbers of their choosing."""
    path = write_events(tmp_path, range(30))
    expected = read_events(path)
    (entry,) = cache_dir().glob("*.bin")
    writable_by_others(entry)
    same(read_events(path), expected)
    assert reads == [0, 0]  # read from the event file, not served from the entry
    assert not entry.stat().st_mode & 0o022  # rebuilt, writable by this user alone
    read_events(path)
    assert reads == [0, 0]  # and then used


@pytest.mark.skipif(not AS_ROOT, reason="chown to another user needs root")
def test_another_user_s_entry_is_not_served_replaced_or_pruned(tmp_path, reads):
    path = write_events(tmp_path, range(30))
    read_events(path)
    (entry,) = cache_dir().glob("*.bin")
    give_to_another_user(entry)
    theirs = entry.read_bytes(), entry.stat().st_uid
    read_events(path)
    read_events(path)
    assert reads == [0, 0, 0]  # never served, and left in place: read each time
    set_last_used(entry, 600)
    cache.prune(0, in_use_since=time.time_ns())
    assert (entry.read_bytes(), entry.stat().st_uid) == theirs


def test_a_link_where_an_entry_belongs_is_not_followed(tmp_path, reads):
    """Even to an entry of this user's: entries are renamed into place, never linked."""
    path = write_events(tmp_path, range(30))
    read_events(path)
    (entry,) = cache_dir().glob("*.bin")
    elsewhere = tmp_path / "elsewhere.bin"
    entry.rename(elsewhere)
    entry.symlink_to(elsewhere)
    same(read_events(path), read_event_file(path))
    assert reads == [0, 0]  # read from the event file, not from where the link leads
