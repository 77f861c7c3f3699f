"""The service loop with the real archive sink: once per frame, outages ridden out, bad bundles set aside."""
from __future__ import annotations

import threading

import pytest

from nanoaid_daemon.errors import ConfigError
from nanoaid_daemon.uploader.backoff import Backoff
from nanoaid_daemon.uploader.service import Uploader
from nanoaid_daemon.uploader.source import list_factory
from nanoaid_plugins.sink_ocfl._api import OcflSink

from .factory import EventLog, correct, corrected_event, processed_event
from .helpers import object_inventories, validate_ocfl


def _run(uploader, events):
    uploader.run(list_factory(events), threading.Event())


@pytest.fixture
def setup(tmp_path):
    log = EventLog(tmp_path / "events.jsonl")
    uploader = Uploader(tmp_path / "state", OcflSink(tmp_path / "archive"),
                        backoff=Backoff(initial_s=0.01, max_s=0.05))
    yield tmp_path, log, uploader
    uploader.close()


def test_every_frame_is_stored_once_and_catalogued(setup):
    tmp, log, uploader = setup
    made = log.frames(tmp / "watch", 20)
    _run(uploader, log.events)
    inventories = object_inventories(tmp / "archive")
    assert sorted(inventories) == sorted(doc.frame.sha256 for _, _, doc in made)
    assert all(list(inv["versions"]) == ["v1"] for inv in inventories.values())
    assert uploader.catalogue.count() == 20
    status = uploader.progress.status()
    assert (status["backlog"], status["stored_frames"], status["last_seq"], status["failed"]) == (0, 20, 20, [])


def test_redelivery_and_reprocessing_never_duplicate(setup):
    tmp, log, uploader = setup
    made = log.frames(tmp / "watch", 5)
    _run(uploader, log.events)
    frame, side, doc = made[0]
    again = [*log.events, log.append(processed_event, frame, side, doc)]  # same seqs again, plus a new seq
    _run(uploader, again)
    rows = {r["frame_id"]: r for r in uploader.progress.stored()}
    assert all(r["versions_written"] == 1 for r in rows.values()) and len(rows) == 5
    assert list(object_inventories(tmp / "archive")[doc.frame.sha256]["versions"]) == ["v1"]


def test_correction_event_stores_version_2_and_updates_the_catalogue(setup):
    tmp, log, uploader = setup
    frame, side, doc = log.frames(tmp / "watch", 1)[0]
    _run(uploader, log.events)
    new = correct(side, "Nanowires", comment="clearly wires")
    log.append(corrected_event, frame, side, new)
    _run(uploader, log.events)
    assert list(object_inventories(tmp / "archive")[doc.frame.sha256]["versions"]) == ["v1", "v2"]
    [hit] = uploader.catalogue.search("label:Nanowires corrected:yes wires")
    assert (hit["frame_id"], hit["version"], hit["sidecar_version"]) == (doc.frame.sha256, 2, 2)


def test_unmounted_archive_is_retried_with_growing_delays_then_drained(setup):
    tmp, log, _ = setup
    archive = tmp / "nas"
    OcflSink(archive).check()
    archive.rename(tmp / "nas-away")  # the NAS is unmounted
    uploader = Uploader(tmp / "state2", OcflSink(archive, create=False),
                        backoff=Backoff(initial_s=1, max_s=4, jitter=0))
    try:
        log.frames(tmp / "watch", 3)
        for event in log.events:
            uploader.progress.accept(event)
        delays = [uploader.step() for _ in range(4)]
        assert delays == [1, 2, 4, 4]
        status = uploader.progress.status()
        assert status["failing"] and "is the disk or NAS mounted" in status["last_error"]
        assert status["backlog"] == 3
        (tmp / "nas-away").rename(archive)
        assert [uploader.step() for _ in range(4)] == [0.0, 0.0, 0.0, None]
        assert not uploader.progress.status()["failing"]
    finally:
        uploader.close()
    assert validate_ocfl(archive)["good"] == 3


def test_broken_bundle_is_set_aside_and_the_queue_moves_on(setup):
    tmp, log, uploader = setup
    made = log.frames(tmp / "watch", 3)
    made[1][0].unlink()  # the frame vanished before upload
    _run(uploader, log.events)
    status = uploader.progress.status()
    assert status["stored_frames"] == 2
    assert [f["seq"] for f in status["failed"]] == [2] and "does not exist" in status["failed"][0]["error"]
    made[1][0].write_bytes(b"")  # still wrong: size differs from the sidecar
    uploader.progress.requeue_failed()
    _run(uploader, log.events)
    assert "bytes but its sidecar says" in uploader.progress.status()["failed"][0]["error"]


def test_event_source_failure_resubscribes_from_the_last_accepted_seq(setup):
    tmp, log, uploader = setup
    log.frames(tmp / "watch", 4)
    asked = []

    def flaky(since):
        asked.append(since)
        if len(asked) == 1:
            yield from log.events[:2]
            raise ConnectionError("bus went away")
        yield from (e for e in log.events if e.seq > since)

    uploader.run(flaky, threading.Event())
    assert asked == [0, 2]
    assert uploader.progress.status()["stored_frames"] == 4


def test_unusable_event_source_stops_the_service_with_the_reason(setup):
    tmp, _, uploader = setup

    def missing(since):
        raise ConfigError("the event client library is not available")

    with pytest.raises(ConfigError, match="client library"):
        uploader.run(missing, threading.Event())


def test_a_sink_that_raises_anything_is_retried_not_fatal(tmp_path):
    class Flaky:
        name = "flaky"

        def __init__(self):
            self.calls = 0
            self.inner = OcflSink(tmp_path / "archive")

        def describe(self):
            return "flaky " + self.inner.describe()

        def check(self):
            self.inner.check()

        def put(self, bundle):
            self.calls += 1
            if self.calls == 1:
                raise KeyError("plugin bug")
            return self.inner.put(bundle)

        def close(self):
            self.inner.close()

    log = EventLog(tmp_path / "events.jsonl")
    log.frames(tmp_path / "watch", 2)
    uploader = Uploader(tmp_path / "state", Flaky(), backoff=Backoff(initial_s=0.01, max_s=0.01))
    try:
        _run(uploader, log.events)
        assert uploader.progress.status()["stored_frames"] == 2
        assert "raised KeyError" in uploader.progress.status()["last_error"]
    finally:
        uploader.close()
