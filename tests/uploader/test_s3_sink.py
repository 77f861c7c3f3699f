"""The S3 sink against a real S3 server process (moto) that enforces credentials and signatures."""
from __future__ import annotations

import hashlib
import json
import threading

import pytest

from nanoaid_daemon.config import load_settings
from nanoaid_daemon.errors import ConfigError, SinkError
from nanoaid_daemon.uploader.backoff import Backoff
from nanoaid_daemon.uploader.bundle import assemble_bundle
from nanoaid_daemon.uploader.ocfl import object_path
from nanoaid_daemon.uploader.service import Uploader
from nanoaid_daemon.uploader.sinks import build_sink
from nanoaid_daemon.uploader.source import jsonl_factory

from .factory import EventLog, FrameSpec, correct, make_frame
from .helpers import wait_for
from .servers import free_port, moto_server, s3_client, setup_s3_user


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    work = tmp_path_factory.mktemp("s3")
    with moto_server(work, auth=True).start() as server:
        key_id, secret = setup_s3_user(server.url)
        s3_client(server.url, key_id, secret).create_bucket(Bucket="frames")
        yield server, key_id, secret


def _sink(url, **options):
    settings = load_settings(overrides={"plugins": {"options": {"s3": options}}})
    return build_sink(url, settings)[1]


def _good_sink(s3, prefix):
    server, key_id, secret = s3
    return _sink(f"s3://frames/{prefix}", endpoint_url=server.url, access_key_id=key_id, secret_access_key=secret)


def _objects(s3, prefix):
    server, key_id, secret = s3
    client = s3_client(server.url, key_id, secret)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket="frames", Prefix=prefix + "/")
    return client, {o["Key"][len(prefix) + 1:] for page in pages for o in page.get("Contents", [])}


def test_bundle_becomes_an_ocfl_object_with_the_sidecar_digests(s3, tmp_path):
    sink = _good_sink(s3, "t1")
    frame, side, doc = make_frame(tmp_path, FrameSpec(name="a.tif", previews=2))
    receipt = sink.put(assemble_bundle(side))
    obj = object_path(f"urn:nanoaid:frame:{doc.frame.sha256}")
    assert receipt.created and receipt.location == f"s3://frames/t1/{obj}/"
    client, keys = _objects(s3, "t1")
    assert {"0=ocfl_1.1", "ocfl_layout.json", f"{obj}/inventory.json", f"{obj}/v1/content/a.tif"} <= keys
    body = client.get_object(Bucket="frames", Key=f"t1/{obj}/v1/content/a.tif")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == doc.frame.sha256 == frame_digest(frame)
    inventory = json.loads(client.get_object(Bucket="frames", Key=f"t1/{obj}/inventory.json")["Body"].read())
    assert inventory["manifest"][doc.previews[0].sha256] == [f"v1/content/{doc.previews[0].path}"]


def frame_digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_redelivery_is_idempotent_and_a_correction_is_version_2(s3, tmp_path):
    sink = _good_sink(s3, "t2")
    _, side, doc = make_frame(tmp_path, FrameSpec(name="a.tif"))
    assert [sink.put(assemble_bundle(side)).created for _ in range(2)] == [True, False]
    correct(side, "Fibres")
    receipt = sink.put(assemble_bundle(side))
    assert (receipt.version, receipt.created) == (2, True)
    _, keys = _objects(s3, "t2")
    v2 = sorted(k.split("/v2/", 1)[1] for k in keys if "/v2/" in k)
    assert v2 == ["content/a.tif.nanoaid.json", "inventory.json", "inventory.json.sha256"]


def test_wrong_credentials_are_reported_as_such(s3, tmp_path):
    server, key_id, _ = s3
    _, side, _ = make_frame(tmp_path, FrameSpec(name="a.tif"))
    for wrong in ({"access_key_id": "AKIANOSUCHKEY", "secret_access_key": "x"},
                  {"access_key_id": key_id, "secret_access_key": "not-the-secret"}):
        sink = _sink("s3://frames/t3", endpoint_url=server.url, **wrong)
        with pytest.raises(SinkError, match="refused the credentials"):
            sink.put(assemble_bundle(side))


def test_secret_can_come_from_a_credentials_file(s3, tmp_path, monkeypatch):
    server, key_id, secret = s3
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "s3-secret").write_text(secret + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    sink = _sink("s3://frames/t4", endpoint_url=server.url, access_key_id=key_id,
                 secret_access_key_file="${CREDENTIALS_DIRECTORY}/s3-secret")
    sink.check()


def test_unreachable_endpoint_and_missing_bucket_are_reported_clearly(s3, tmp_path):
    server, key_id, secret = s3
    dead = _sink("s3://frames/x", endpoint_url=f"http://127.0.0.1:{free_port()}", access_key_id=key_id,
                 secret_access_key=secret, connect_timeout_s=1)
    with pytest.raises(SinkError, match="unreachable"):
        dead.check()
    nobucket = _sink("s3://no-such-bucket/x", endpoint_url=server.url, access_key_id=key_id, secret_access_key=secret)
    with pytest.raises(SinkError, match="does not exist"):
        nobucket.check()


def test_bad_sink_configuration_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown option"):
        _sink("s3://frames/x", endpont_url="http://typo")
    with pytest.raises(ConfigError, match="no sink plugin handles ftp://"):
        _sink("ftp://example/x")


def test_frozen_repository_with_300_frames_arriving_then_back(tmp_path):
    """The S3 server hangs (SIGSTOP) while 300 frames arrive; after it resumes all are stored once."""
    with moto_server(tmp_path).start() as server:
        client = s3_client(server.url)
        client.create_bucket(Bucket="frames")
        sink = _sink("s3://frames/outage", endpoint_url=server.url, access_key_id="testing",
                     secret_access_key="testing", connect_timeout_s=0.5, read_timeout_s=0.5)
        log = EventLog(tmp_path / "events.jsonl")
        log.path.touch()
        uploader = Uploader(tmp_path / "state", sink, backoff=Backoff(initial_s=0.05, max_s=0.5))
        stop = threading.Event()
        service = threading.Thread(target=uploader.run, args=(jsonl_factory(log.path, follow=True, poll_s=0.05), stop))
        service.start()
        try:
            before = log.frames(tmp_path / "watch", 20)
            wait_for(lambda: uploader_status(tmp_path)["stored_frames"] == 20, 120, "first 20 frames stored")
            server.freeze()
            during = log.frames(tmp_path / "watch", 300, start=20)
            status = wait_for(lambda: _all_accepted_and_failing(tmp_path, 320), 120, "backlog of the outage")
            assert status["backlog"] >= 299 and "unreachable" in status["last_error"]
            server.thaw()
            wait_for(lambda: uploader_status(tmp_path)["stored_frames"] == 320, 300, "backlog drained")
        finally:
            server.thaw()
            stop.set()
            service.join()
            uploader.close()
        _assert_each_stored_once(client, [doc for _, _, doc in before + during])


def uploader_status(tmp_path):
    from .helpers import upload_status

    return upload_status(tmp_path / "state")


def _all_accepted_and_failing(tmp_path, total):
    status = uploader_status(tmp_path)
    return status if status["last_seq"] == total and status["failing"] else None


def _assert_each_stored_once(client, docs):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket="frames", Prefix="outage/")
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    inventories = [k for k in keys if k.endswith("/inventory.json") and k.rsplit("/", 2)[-2].startswith("urn")]
    assert len(inventories) == len(docs)
    for doc in docs:
        obj = f"outage/{object_path(f'urn:nanoaid:frame:{doc.frame.sha256}')}"
        inventory = json.loads(client.get_object(Bucket="frames", Key=f"{obj}/inventory.json")["Body"].read())
        assert list(inventory["versions"]) == ["v1"], f"{doc.frame.name} stored more than once"
        body = client.get_object(Bucket="frames", Key=f"{obj}/v1/content/{doc.frame.name}")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == doc.frame.sha256
    assert not [k for k in keys if "/v2/" in k]
