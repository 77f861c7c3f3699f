"""The WebDAV sink against a real WebDAV server process (wsgidav) with basic authentication."""
from __future__ import annotations

import hashlib
import signal

import pytest

from nanoaid_daemon.config import load_settings
from nanoaid_daemon.errors import SinkError
from nanoaid_daemon.uploader.bundle import assemble_bundle
from nanoaid_daemon.uploader.sinks import build_sink

from .factory import EventLog, FrameSpec, correct, make_frame
from .helpers import nanoaid_cmd, object_inventories, running, tail, upload_status, validate_ocfl, wait_for
from .servers import free_port, webdav_server


@pytest.fixture(scope="module")
def dav(tmp_path_factory):
    work = tmp_path_factory.mktemp("dav")
    with webdav_server(work, work / "share").start() as server:
        yield server, work / "share"


def _sink(url, **options):
    return build_sink(url, load_settings(overrides={"plugins": {"options": {"webdav": options}}}))[1]


def test_bundle_lands_as_a_valid_ocfl_object_on_the_share(dav, tmp_path):
    server, share = dav
    sink = _sink(f"webdav://127.0.0.1:{server.port}/t1/archive", username="uploader", password="s3cret")
    made = [make_frame(tmp_path, FrameSpec(name=f"f {i}.tif", seed=i, previews=2)) for i in range(3)]
    receipts = [sink.put(assemble_bundle(side)) for _, side, _ in made]
    assert all(r.created and r.location.startswith(f"http://127.0.0.1:{server.port}/t1/archive/") for r in receipts)
    correct(made[0][1], "Fibres")
    assert sink.put(assemble_bundle(made[0][1])).version == 2
    assert validate_ocfl(share / "t1" / "archive") == {"valid": True, "structure_error": None, "objects": 3,
                                                         "good": 3, "errors": []}
    inventories = object_inventories(share / "t1" / "archive")
    assert set(inventories) == {doc.frame.sha256 for _, _, doc in made}


def test_redelivery_writes_nothing_new(dav, tmp_path):
    server, share = dav
    sink = _sink(f"webdav://127.0.0.1:{server.port}/t2", username="uploader", password="s3cret")
    _, side, _ = make_frame(tmp_path, FrameSpec(name="a.tif"))
    sink.put(assemble_bundle(side))
    before = sorted(p.relative_to(share) for p in (share / "t2").rglob("*"))
    assert sink.put(assemble_bundle(side)).created is False
    assert sorted(p.relative_to(share) for p in (share / "t2").rglob("*")) == before


def test_wrong_password_is_reported_as_refused_credentials(dav, tmp_path):
    server, _ = dav
    sink = _sink(f"webdav://127.0.0.1:{server.port}/t3", username="uploader", password="guess")
    _, side, _ = make_frame(tmp_path, FrameSpec(name="a.tif"))
    with pytest.raises(SinkError, match="refused the credentials .*HTTP 401"):
        sink.put(assemble_bundle(side))


def test_no_server_is_reported_as_unreachable(tmp_path):
    sink = _sink(f"webdav://127.0.0.1:{free_port()}/x", username="u", password="p")
    with pytest.raises(SinkError, match="unreachable"):
        sink.check()


def test_password_never_appears_in_the_description(dav):
    server, _ = dav
    sink = _sink(f"webdav://uploader:s3cret@127.0.0.1:{server.port}/t4")
    assert "s3cret" not in sink.describe()
    sink.check()


def test_server_killed_while_300_frames_arrive_then_back(tmp_path):
    """kill -9 the WebDAV server, 300 frames arrive, start it again: each frame stored once, verified."""
    share = tmp_path / "share"
    server = webdav_server(tmp_path, share).start()
    (tmp_path / "dav-password").write_text("s3cret\n")
    config = tmp_path / "nanoaid.toml"
    password_file = tmp_path / "dav-password"
    config.write_text(f'[plugins.options.webdav]\nusername = "uploader"\npassword_file = "{password_file}"\n')
    log = EventLog(tmp_path / "events.jsonl")
    log.path.touch()
    state = tmp_path / "state"
    cmd = nanoaid_cmd("upload", "--state", state, "--events", log.path, "--sink",
                      f"webdav://127.0.0.1:{server.port}/archive", "--config", config, "--retry-initial", "0.05",
                      "--retry-max", "0.5")
    try:
        with running(cmd, log=tmp_path / "upload.log") as uploader:
            before = log.frames(tmp_path / "watch", 20)
            wait_for(lambda: (state / "progress.sqlite3").exists() and upload_status(state)["stored_frames"] == 20,
                       120, "first frames stored")
            server.kill9()
            during = log.frames(tmp_path / "watch", 300, start=20)
            status = wait_for(lambda: (lambda s: s if s["last_seq"] == 320 and s["failing"] else None)(
                upload_status(state)), 120, "the outage to show in status")
            assert "unreachable" in status["last_error"] and status["backlog"] >= 299
            server.start()
            wait_for(lambda: upload_status(state)["stored_frames"] == 320, 300, "the backlog to drain")
            uploader.send_signal(signal.SIGTERM)
            assert uploader.wait(timeout=30) == 0, tail(tmp_path / "upload.log")
    finally:
        server.stop()
    inventories = object_inventories(share / "archive")
    docs = [doc for _, _, doc in before + during]
    assert sorted(inventories) == sorted(doc.frame.sha256 for doc in docs)
    assert all(list(inv["versions"]) == ["v1"] for inv in inventories.values())
    for doc in docs[::37]:
        stored = next((share / "archive").rglob(f"*{doc.frame.sha256}/v1/content/{doc.frame.name}"))
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == doc.frame.sha256
    assert validate_ocfl(share / "archive")["good"] == 320
    assert upload_status(state)["failed"] == []
