"""Fuzzing the replay and command endpoints: 10,000 hostile messages, no crash, every reply well-formed."""
from __future__ import annotations

import json
import random

import zmq

from nanoaid_daemon.events import Event
from nanoaid_daemon.sidecar import CLASSES

from .conftest import emit, processed_frame

MESSAGES = 10_000


def rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _junk_value(rng: random.Random):
    return rng.choice([None, True, -1, 2**70, 1.5, float("1e308"), "x" * rng.randint(0, 300), [], {}, [1, "a"],
                       {"op": "ping"}, "\u0000\ud7ff", -(2**63) - 1])


def _valid(rng: random.Random, frame_id: str) -> dict:
    return rng.choice([
        {"op": "since", "seq": rng.randint(0, 60), "limit": rng.randint(1, 100), "types": ["frame."]},
        {"op": "snapshot", "limit": rng.randint(0, 5)},
        {"op": "ping", "id": rng.randint(0, 10**6)},
        {"op": "label", "frame_id": rng.choice([frame_id, f"{rng.getrandbits(256):064x}"]),
         "label": rng.choice([*CLASSES, "Cats", ""]), "operator": rng.choice(["op1", "", "x" * 200, "tab\t"])},
    ])


def message(rng: random.Random, frame_id: str) -> list[bytes]:
    kind = rng.random()
    if kind < 0.15:
        return [rng.randbytes(rng.randint(1, 2000))]
    if kind < 0.35:
        text = json.dumps(_valid(rng, frame_id)).encode()
        return [text[: rng.randint(1, max(1, len(text) - 1))]]
    if kind < 0.40:
        return [b'{"op": "since", "seq": 1, "pad": "' + b"x" * rng.randint(70_000, 400_000) + b'"}']
    if kind < 0.65:
        doc = _valid(rng, frame_id)
        doc[rng.choice([*doc, "extra", "op"])] = _junk_value(rng)
        return [json.dumps(doc).encode()]
    if kind < 0.72:
        return [rng.randbytes(rng.randint(0, 50)) for _ in range(rng.randint(2, 12))]
    if kind < 0.78:
        return [rng.choice([b"null", b"[]", b"1e999", b'"op"', b"NaN", b"{" * 5000, b"\xef\xbb\xbf{}", b"{}"])]
    if kind < 0.82:
        return [b"", json.dumps(_valid(rng, frame_id)).encode()]  # REQ-style delimiter
    return [json.dumps(_valid(rng, frame_id)).encode()]


def check_reply(request: list[bytes], reply: list[bytes]) -> None:
    if request[0] == b"" and len(request) > 1:
        assert reply[0] == b"", "a delimited request gets a delimited reply"
        reply = reply[1:]
    header = json.loads(reply[0])
    assert isinstance(header, dict) and isinstance(header["ok"], bool)
    if not header["ok"]:
        assert set(header["error"]) == {"code", "message"}
        assert all(isinstance(v, str) and v for v in header["error"].values())
        assert len(reply) == 1
    elif header["op"] == "since":
        assert header["count"] == len(reply) - 1
        for frame in reply[1:]:
            Event.model_validate_json(frame)


def test_ten_thousand_hostile_messages_get_well_formed_replies_and_no_crash(make_bus, journal, ctx, tmp_path):
    frame_id = processed_frame(journal, tmp_path / "frames", "a.png")
    bus = make_bus()
    emit(journal, bus, 50)
    rng = random.Random(2024)
    sockets = {}
    for name in ("replay", "command"):
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(getattr(bus.endpoints, name))
        sockets[name] = sock
    rss_start = None
    for i in range(MESSAGES):
        if i == 500:
            rss_start = rss_bytes()
        sock = sockets["replay" if i % 2 else "command"]
        request = message(rng, frame_id)
        sock.send_multipart(request)
        assert sock.poll(10_000), f"no reply to message {i}: {request[:1]!r:.80}"
        check_reply(request, sock.recv_multipart())
    growth = rss_bytes() - rss_start
    print(
        f"fuzz: {MESSAGES} messages, RSS growth {growth / 2**20:.1f} MiB, "
        f"{len(journal.corrections())} valid corrections"
    )
    assert growth < 20 * 2**20
    assert all(t.is_alive() for t in bus._threads)
    sockets["replay"].send(b'{"op": "ping"}')
    assert json.loads(sockets["replay"].recv())["ok"] is True
    accepted = [c for c in journal.corrections() if c["frame_id"] == frame_id]
    assert len(accepted) == len(journal.events(type="label.corrected")) > 0  # valid ones among the noise went through
