"""Every cache is bounded by entries and bytes (least recently used out first), on disk too."""

from __future__ import annotations

import os
import time

from simplecnn.bounded import BoundedCache, folder_use, prune_folder, touch


def test_cache_keeps_at_most_its_entries_least_recent_out_first():
    cache: BoundedCache[str, int] = BoundedCache(max_entries=2, max_bytes=1 << 20)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3


def test_cache_keeps_at_most_its_bytes():
    cache: BoundedCache[str, bytes] = BoundedCache(max_entries=100, max_bytes=10, size=len)
    for key in "abcdef":
        cache.put(key, b"xxxx")
    assert cache.bytes <= 10 and len(cache) == 2 and "f" in cache and "e" in cache


def test_a_value_larger_than_the_cache_is_returned_but_not_kept():
    cache: BoundedCache[str, bytes] = BoundedCache(max_entries=4, max_bytes=10, size=len)
    assert cache.get_or_make("big", lambda: b"x" * 11) == b"x" * 11
    assert "big" not in cache and cache.bytes == 0


def _file(folder, name, size, age):
    path = folder / name
    path.write_bytes(b"\0" * size)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_prune_removes_least_recently_used_derived_files_until_under_the_cap(tmp_path):
    old = _file(tmp_path, "embed-old.pt", 400, age=300)
    used = _file(tmp_path, "embed-used.pt", 400, age=200)
    new = _file(tmp_path, "embed-new.pt", 400, age=100)
    touch(used)  # read just now: the most recently used
    kernel = tmp_path / "kernels"
    kernel.mkdir()
    (kernel / "train.so").write_bytes(b"\0" * 100)
    removed = prune_folder(tmp_path, max_bytes=500)
    assert removed == [old, new]
    assert used.exists() and (kernel / "train.so").exists()
    assert folder_use(tmp_path).bytes <= 500


def test_prune_makes_room_for_a_file_about_to_be_written_and_spares_kept_ones(tmp_path):
    a = _file(tmp_path, "a.pt", 500, age=300)
    b = _file(tmp_path, "b.pt", 500, age=200)
    prune_folder(tmp_path, max_bytes=1200, room_for=400, keep=[a])
    assert a.exists() and not b.exists()
