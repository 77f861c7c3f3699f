"""The replay endpoint: paged, bounded, filtered; snapshot and ping; every malformed request answered."""
from __future__ import annotations

import json

import pytest
import zmq

from nanoaid_daemon.bus.protocol import MAX_MESSAGE_BYTES, RequestRejected
from nanoaid_daemon.bus.wire import Requester

from .conftest import emit, processed_frame


@pytest.fixture
def replay(make_bus, ctx):
    bus = make_bus(replay_page_max=50)
    req = Requester(ctx, bus.endpoints.replay)
    yield bus, req
    req.close()


def raw(ctx, endpoint: str, kind=zmq.DEALER) -> zmq.Socket:
    sock = ctx.socket(kind)
    sock.linger = 0
    sock.rcvtimeo = 5000
    sock.connect(endpoint)
    return sock


def test_since_pages_are_bounded_and_say_whether_more_follows(replay, journal):
    bus, req = replay
    emit(journal, bus, 120)
    seen, seq, pages = [], 0, 0
    while True:
        header, frames = req.request({"op": "since", "seq": seq, "limit": 1000})
        pages += 1
        assert header["count"] == len(frames) <= 50  # the server caps the page
        seen += [json.loads(f)["seq"] for f in frames]
        seq = header["until"]
        if not header["more"]:
            break
    assert seen == list(range(1, 121)) and pages == 3 and header["last_seq"] == 120


def test_since_filters_by_type_prefix_and_reports_how_far_it_scanned(replay, journal):
    bus, req = replay
    emit(journal, bus, 5, "daemon.started")
    emit(journal, bus, 2, "frame.rejected")
    header, frames = req.request({"op": "since", "seq": 0, "types": ["frame."]})
    assert [json.loads(f)["seq"] for f in frames] == [6, 7]
    assert header["until"] == 7 and header["more"] is False


def test_since_beyond_the_end_is_an_empty_page(replay, journal):
    bus, req = replay
    emit(journal, bus, 3)
    header, frames = req.request({"op": "since", "seq": 10})
    assert frames == [] and header["last_seq"] == 3 and header["more"] is False


def test_snapshot_gives_a_late_joiner_the_current_state(replay, journal, tmp_path):
    bus, req = replay
    ids = [processed_frame(journal, tmp_path / "frames", f"f{i}.png", seed=i) for i in range(3)]
    header, _ = req.request({"op": "snapshot", "limit": 2})
    assert header["last_seq"] == 3 and header["frames_processed"] == 3
    assert [f["frame_id"] for f in header["frames"]] == ids[::-1][:2]
    assert header["frames"][0]["label"] == "Particles"


def test_ping_reports_the_last_seq(replay, journal):
    bus, req = replay
    emit(journal, bus, 4)
    assert req.request({"op": "ping"})[0]["last_seq"] == 4


@pytest.mark.parametrize("payload, code", [
    (b"", "bad_request"),  # an empty frame reads as a REQ delimiter with no request after it
    (b"\xff\xfe\x00garbage", "bad_json"),
    (b"[1, 2]", "bad_request"),
    (b'{"op": "drop_tables"}', "unknown_op"),
    (b'{"seq": 1}', "unknown_op"),
    (b'{"op": "since", "seq": "ten"}', "invalid"),
    (b'{"op": "since", "seq": -1}', "invalid"),
    (b'{"op": "since", "seq": 1.5}', "invalid"),
    (b'{"op": "since", "seq": true}', "invalid"),
    (b'{"op": "since", "seq": 1, "types": "frame."}', "invalid"),
    (b'{"op": "since", "seq": 1, "extra": 1}', "invalid"),
    (b'{"op": "since", "seq": 99999999999999999999999999}', "invalid"),
    (b'{"op": "label", "frame_id": "x"}', "unknown_op"),
    (b"[" * 30000 + b"]" * 30000, "bad_json"),  # nesting deeper than the parser allows
])
def test_malformed_requests_get_an_error_reply(replay, ctx, payload, code):
    bus, _ = replay
    sock = raw(ctx, bus.endpoints.replay)
    sock.send(payload)
    header = json.loads(sock.recv_multipart()[-1])
    assert header["ok"] is False and header["error"]["code"] == code and header["error"]["message"]
    sock.close()


def test_oversized_request_gets_an_error_reply(replay, ctx):
    bus, _ = replay
    sock = raw(ctx, bus.endpoints.replay)
    sock.send(b'{"op": "ping", "pad": "' + b"x" * 200_000 + b'"}')
    assert json.loads(sock.recv())["error"]["code"] == "too_large"
    sock.close()


def test_multi_frame_request_gets_an_error_reply_with_its_id(replay, ctx):
    bus, _ = replay
    sock = raw(ctx, bus.endpoints.replay)
    sock.send_multipart([b'{"op": "ping", "id": 7}', b"extra"])
    header = json.loads(sock.recv())
    assert header["error"]["code"] == "bad_request"
    sock.close()


def test_req_clients_with_an_empty_delimiter_are_answered_too(replay, ctx, journal):
    bus, _ = replay
    emit(journal, bus, 2)
    sock = raw(ctx, bus.endpoints.replay, zmq.REQ)
    sock.send(b'{"op": "since", "seq": 0, "id": "a"}')
    header, *events = sock.recv_multipart()
    assert json.loads(header)["id"] == "a" and len(events) == 2
    sock.close()


def test_a_frame_above_the_socket_limit_drops_only_that_peer(replay, ctx):
    bus, req = replay
    sock = raw(ctx, bus.endpoints.replay)
    sock.send(b"x" * (MAX_MESSAGE_BYTES + 1))
    sock.rcvtimeo = 500
    with pytest.raises(zmq.Again):
        sock.recv()
    sock.close()
    assert req.request({"op": "ping"})[0]["ok"] is True


def test_requester_raises_the_servers_reason(replay):
    _, req = replay
    with pytest.raises(RequestRejected) as info:
        req.request({"op": "since", "seq": -5})
    assert info.value.code == "invalid" and "seq" in str(info.value)


def test_error_replies_echo_the_request_id_when_it_can_be_read(replay, ctx):
    bus, _ = replay
    sock = raw(ctx, bus.endpoints.replay)
    sock.send(b'{"op": "since", "seq": -1, "id": "q-17"}')
    header = json.loads(sock.recv())
    assert header["id"] == "q-17" and header["error"]["code"] == "invalid"
    sock.close()
