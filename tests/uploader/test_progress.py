"""The uploader's durable queue: what is accepted survives, nothing is taken twice."""
from __future__ import annotations

import random

import pytest

from nanoaid_daemon.events import Event
from nanoaid_daemon.uploader.backoff import Backoff
from nanoaid_daemon.uploader.bundle import Receipt
from nanoaid_daemon.uploader.progress import Progress

FRAME = "ab" * 32


def _event(seq, type_="frame.processed"):
    return Event(seq=seq, type=type_, frame_id=FRAME, frame_path="/w/a.tif", sidecar_path="/w/a.tif.nanoaid.json")


def test_accepted_events_and_last_seq_survive_reopening(tmp_path):
    with Progress(tmp_path / "p.sqlite3") as progress:
        assert [progress.accept(_event(s)) for s in (1, 2, 3)] == [True, True, True]
    with Progress(tmp_path / "p.sqlite3") as progress:
        assert progress.last_seq() == 3
        assert progress.counts()["pending"] == 3
        assert progress.next_pending().seq == 1


def test_redelivered_seq_and_heartbeats_are_not_accepted(tmp_path):
    with Progress(tmp_path / "p.sqlite3") as progress:
        progress.accept(_event(5))
        assert not progress.accept(_event(5))
        assert not progress.accept(_event(4))
        assert not progress.accept(Event(type="daemon.heartbeat", last_seq=5))
        assert progress.counts()["pending"] == 1


def test_events_that_need_no_upload_advance_the_seq_without_work(tmp_path):
    with Progress(tmp_path / "p.sqlite3") as progress:
        progress.accept(Event(seq=1, type="frame.rejected", frame_path="/w/bad.tif"))
        progress.accept(Event(seq=2, type="daemon.started"))
        assert progress.last_seq() == 2
        assert progress.next_pending() is None
        assert progress.counts()["skipped"] == 2


def test_done_failed_and_retry_are_reflected_in_status(tmp_path):
    clock = iter(range(100, 1000)).__next__
    with Progress(tmp_path / "p.sqlite3", clock=lambda: float(clock())) as progress:
        for s in (1, 2, 3):
            progress.accept(_event(s))
        progress.mark_done(progress.next_pending(), Receipt("/archive/x", 1, True), "cd" * 32)
        progress.mark_failed(progress.next_pending(), "sidecar /w/a.tif.nanoaid.json does not exist")
        progress.note_attempt(progress.next_pending(), "archive full")
        status = progress.status()
        assert (status["backlog"], status["stored_frames"], status["failing"]) == (1, 1, True)
        assert status["failed"][0]["seq"] == 2 and "does not exist" in status["failed"][0]["error"]
        assert status["last_error"] == "archive full"
        assert progress.requeue_failed() == 1
        assert progress.counts() == {"pending": 2, "done": 1, "skipped": 0, "failed": 0}


def test_backoff_doubles_up_to_the_cap_and_resets_on_success():
    backoff = Backoff(initial_s=1.0, max_s=8.0, jitter=0.0)
    assert [backoff.failure() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    backoff.success()
    assert backoff.failure() == 1.0


def test_backoff_jitter_only_shortens_and_survives_long_outages():
    backoff = Backoff(initial_s=1.0, max_s=60.0, jitter=0.2, rng=random.Random(3))
    delays = [backoff.failure() for _ in range(5000)]
    assert all(0.0 < d <= 60.0 for d in delays) and min(delays[10:]) >= 48.0


def test_backoff_refuses_nonsense_settings():
    with pytest.raises(ValueError):
        Backoff(initial_s=10, max_s=1)
