"""Several files written together: each complete under its name, one folder fsync for all.

Real files in a real folder; ``os.fsync`` is wrapped (still called) only to see which
descriptors were synced.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nanoaid_daemon import atomic
from nanoaid_daemon.atomic import TEMP_SUFFIX, atomic_write_files


@pytest.fixture()
def synced(monkeypatch) -> list[str]:
    """What each ``os.fsync`` call synced: 'dir' or 'file'."""
    seen: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        seen.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    return seen


def test_every_file_is_synced_renamed_and_the_folder_synced_once(tmp_path: Path, synced: list[str]):
    files = {"a.nanoaid.thumbnail.jpg": b"\xff\xd8" + b"a" * 5000, "a.nanoaid.cam.jpg": b"c" * 70_000,
             "a.nanoaid.ai_lens.png": b"\x89PNG" + b"l" * 300}
    atomic_write_files(tmp_path / "out", files)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == files
    assert synced == ["file", "file", "file", "dir"]  # every file's data before the one folder sync


def test_rewriting_replaces_whole_files(tmp_path: Path, synced: list[str]):
    atomic_write_files(tmp_path, {"x.png": b"old" * 1000, "y.png": b"old"})
    atomic_write_files(tmp_path, {"x.png": b"new", "y.png": b"new" * 1000})
    assert (tmp_path / "x.png").read_bytes() == b"new"
    assert (tmp_path / "y.png").read_bytes() == b"new" * 1000


def test_a_failed_write_leaves_no_temp_file_and_earlier_files_whole(tmp_path: Path, synced: list[str]):
    (tmp_path / "b.png").mkdir()  # a folder where the second file should go: the rename fails
    with pytest.raises(OSError):
        atomic_write_files(tmp_path, {"a.png": b"first", "b.png": b"second", "c.png": b"third"})
    assert (tmp_path / "a.png").read_bytes() == b"first"
    assert not (tmp_path / "c.png").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(TEMP_SUFFIX)]
    assert "dir" not in synced  # nothing was promised durable


def test_nothing_to_write_syncs_nothing(tmp_path: Path, synced: list[str]):
    atomic_write_files(tmp_path, {})
    assert synced == []
