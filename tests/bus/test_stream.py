"""Live stream + replay together: every event exactly once, in order, for late, slow and restarting subscribers."""
from __future__ import annotations

import json
import random
import threading
import time

import pytest
import zmq

from nanoaid_daemon.bus.client import Subscriber
from nanoaid_daemon.bus.publisher import Publisher
from nanoaid_daemon.bus.wire import Requester
from nanoaid_daemon.events import Event

from .conftest import emit


class Collector:
    """Runs a Subscriber in a thread until it has seen ``until`` (a seq), then closes it.

    ``stall``: after the first event, stop reading until this is set (a consumer that falls far behind).
    """

    def __init__(self, sub: Subscriber, until: int, *, stall: threading.Event | None = None):
        self.sub, self.until, self.seqs, self.events = sub, until, [], []
        self._stall = stall
        self.thread = threading.Thread(target=self._run, name="test-collector")
        self.thread.start()

    def _run(self):
        for event in self.sub:
            self.seqs.append(event.seq)
            self.events.append(event)
            if self._stall is not None and len(self.seqs) == 1:
                self._stall.wait(60)
            if event.seq >= self.until:
                break

    def join(self, timeout: float = 60.0) -> list[int]:
        self.thread.join(timeout)
        alive = self.thread.is_alive()
        self.sub.close()
        self.thread.join(5)
        assert not alive, f"subscriber stuck at seq {self.sub.last_seq}, stats {self.sub.stats}"
        return self.seqs


def raw_sub(ctx, bus, *topics: bytes) -> zmq.Socket:
    sock = ctx.socket(zmq.SUB)
    sock.linger = 0
    for topic in topics:
        sock.setsockopt(zmq.SUBSCRIBE, topic)
    sock.connect(bus.endpoints.pub)
    return sock


def wait_for_heartbeat(sock: zmq.Socket, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sock.poll(100):
            topic, body = sock.recv_multipart()
            if topic == b"daemon.heartbeat":
                return json.loads(body)
    raise AssertionError("no heartbeat arrived")


def drain(sock: zmq.Socket, quiet_s: float = 0.6) -> list[tuple[bytes, bytes]]:
    """Everything but heartbeats, until nothing else arrived for ``quiet_s``."""
    out, last = [], time.monotonic()
    while time.monotonic() - last < quiet_s:
        if sock.poll(50):
            topic, body = sock.recv_multipart()
            if topic != b"daemon.heartbeat":
                out.append((topic, body))
                last = time.monotonic()
    return out


def test_topic_is_the_event_type_and_prefix_filtering_works(make_bus, journal, ctx):
    bus = make_bus()
    sock = raw_sub(ctx, bus, b"frame.", b"daemon.heartbeat")
    wait_for_heartbeat(sock)
    for _ in range(3):
        emit(journal, bus, 2, "daemon.started")
        emit(journal, bus, 2, "frame.rejected")
    got = [(t, json.loads(b)) for t, b in drain(sock) if t != b"daemon.heartbeat"]
    assert [t for t, _ in got] == [b"frame.rejected"] * 6
    assert all(doc["type"] == "frame.rejected" for _, doc in got)


def test_heartbeat_carries_the_last_published_seq(make_bus, journal, ctx):
    bus = make_bus()
    sock = raw_sub(ctx, bus, b"daemon.heartbeat")
    wait_for_heartbeat(sock)
    emit(journal, bus, 7)
    deadline = time.monotonic() + 5
    beat = wait_for_heartbeat(sock)
    while beat["last_seq"] != 7 and time.monotonic() < deadline:
        beat = wait_for_heartbeat(sock)
    assert beat["last_seq"] == 7
    assert "seq" not in beat and Event.model_validate(beat).type == "daemon.heartbeat"


def test_pub_stream_and_replay_carry_the_same_bytes(make_bus, journal, ctx):
    bus = make_bus()
    sock = raw_sub(ctx, bus, b"")
    wait_for_heartbeat(sock)
    emit(journal, bus, 5, "frame.rejected")
    live = [b for t, b in drain(sock) if t != b"daemon.heartbeat"]
    replay = Requester(ctx, bus.endpoints.replay)
    header, frames = replay.request({"op": "since", "seq": 0})
    replay.close()
    assert header["count"] == 5 and frames == live


def test_late_and_slow_joiners_each_get_every_event_exactly_once_in_order(make_bus, journal):
    """2,000 events; joiners start at random moments; one has a tiny receive HWM and falls far behind.

    Events carry 4 kB so the stream outgrows the kernel's socket buffers: the stalled subscriber
    really loses messages on the wire (PUB drops at its send HWM) and must heal them by replay.
    """
    total, rng, padding = 2000, random.Random(6), "x" * 4000
    bus = make_bus(send_hwm=20)
    stream_done = threading.Event()
    slow = Collector(Subscriber(state_dir=bus.state_dir, since=0, rcvhwm=1, idle_timeout=30), total,
                     stall=stream_done)
    starts = sorted(rng.uniform(0.0, 1.0) for _ in range(5))
    collectors: list[Collector] = []
    t0 = time.monotonic()
    for _ in range(total // 20):
        emit(journal, bus, 20, padding=padding)
        while starts and time.monotonic() - t0 >= starts[0]:
            starts.pop(0)
            collectors.append(Collector(Subscriber(state_dir=bus.state_dir, since=0, idle_timeout=30), total))
        time.sleep(0.005)
    collectors += [Collector(Subscriber(state_dir=bus.state_dir, since=0, idle_timeout=30), total) for _ in starts]
    time.sleep(0.5)  # let the publisher send (and drop) the rest while the slow one is stalled
    stream_done.set()
    expected = list(range(1, total + 1))
    for c in [*collectors, slow]:
        assert c.join() == expected
    print("slow subscriber:", slow.sub.stats, "late joiners:", [c.sub.stats for c in collectors])
    assert slow.sub.stats["gaps"] >= 1 and slow.sub.stats["replayed"] > 1, "the stalled subscriber lost nothing?"


@pytest.fixture
def lossy_wire(monkeypatch):
    """Simulate messages lost on the wire: the publisher skips sending the seqs in the returned set."""
    dropped: set[int] = set()
    original = Publisher._publish

    def publish(self, body: str) -> None:
        seq = json.loads(body)["seq"]
        if seq in dropped:
            self.last_published = seq
        else:
            original(self, body)

    monkeypatch.setattr(Publisher, "_publish", publish)
    return dropped


def test_gap_in_the_middle_is_detected_by_sequence_and_healed(make_bus, journal, lossy_wire):
    bus = make_bus()
    lossy_wire.update({3, 4, 5})
    sub = Subscriber(state_dir=bus.state_dir, since=0, idle_timeout=20)
    c = Collector(sub, 8)
    time.sleep(0.5)  # connected and caught up; everything from here on is live
    emit(journal, bus, 8)
    assert c.join() == list(range(1, 9))
    assert sub.stats["gaps"] >= 1


def test_gap_at_the_tail_is_detected_by_heartbeat_and_healed(make_bus, journal, lossy_wire):
    bus = make_bus()
    lossy_wire.update({4, 5})
    sub = Subscriber(state_dir=bus.state_dir, since=0, idle_timeout=20)
    c = Collector(sub, 5)
    time.sleep(0.5)
    emit(journal, bus, 5)
    assert c.join() == [1, 2, 3, 4, 5]
    assert sub.stats["gaps"] >= 1


def test_subscriber_follows_a_daemon_restart_on_new_ports(make_bus, journal, state):
    first = make_bus()
    first_pub = first.endpoints.pub
    sub = Subscriber(state_dir=state, since=0, idle_timeout=30)
    c = Collector(sub, 30)
    emit(journal, first, 10)
    time.sleep(0.3)
    first.stop()
    emit(journal, None, 10)  # committed while no daemon runs: only replay can deliver them
    second = make_bus()
    assert second.endpoints.pub != first_pub  # fresh ports: found again through endpoints.json
    emit(journal, second, 10)
    assert c.join() == list(range(1, 31))
    assert sub.stats["reconnects"] >= 1


def test_a_subscriber_that_never_reads_cannot_stall_publishing(make_bus, journal, ctx):
    bus = make_bus(send_hwm=10)
    sock = raw_sub(ctx, bus, b"")
    sock.rcvhwm = 1
    wait_for_heartbeat(sock)
    emit(journal, bus, 2000)
    deadline = time.monotonic() + 30
    while bus.last_published < 2000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bus.last_published == 2000


def test_types_filter_delivers_matching_events_and_still_advances_last_seq(make_bus, journal):
    bus = make_bus()
    emit(journal, bus, 3, "frame.rejected")
    emit(journal, bus, 2, "daemon.started")
    emit(journal, bus, 1, "frame.failed")
    emit(journal, bus, 2, "daemon.started")
    sub = Subscriber(state_dir=bus.state_dir, since=0, types=("frame.",), idle_timeout=1.0)
    got = [(e.seq, e.type) for e in sub]
    assert got == [(1, "frame.rejected"), (2, "frame.rejected"), (3, "frame.rejected"), (6, "frame.failed")]
    assert sub.last_seq == 8


def test_since_none_delivers_only_events_from_now_on(make_bus, journal):
    bus = make_bus()
    emit(journal, bus, 5)
    sub = Subscriber(state_dir=bus.state_dir, idle_timeout=20)
    c = Collector(sub, 8)
    while sub.last_seq is None:
        time.sleep(0.01)
    emit(journal, bus, 3)
    assert c.join() == [6, 7, 8]


def test_close_from_another_thread_ends_iteration(make_bus):
    bus = make_bus()
    sub = Subscriber(state_dir=bus.state_dir, since=0)
    c = Collector(sub, 10**9)
    time.sleep(0.3)
    sub.close()
    c.thread.join(5)
    assert not c.thread.is_alive()


def test_callback_mode_runs_in_a_thread_until_closed(make_bus, journal):
    bus = make_bus()
    got, done = [], threading.Event()

    def on_event(event):
        got.append(event.seq)
        if len(got) == 4:
            done.set()

    sub = Subscriber(state_dir=bus.state_dir, since=0).start(on_event)
    emit(journal, bus, 4)
    assert done.wait(10)
    sub.close()
    assert got == [1, 2, 3, 4]


def test_idle_timeout_ends_iteration_even_without_a_daemon(state):
    sub = Subscriber(state_dir=state, since=0, idle_timeout=0.5)
    t0 = time.monotonic()
    assert list(sub) == []
    assert time.monotonic() - t0 < 10


def test_stop_publishes_what_was_committed_last_and_removes_endpoints(make_bus, journal, state, ctx):
    bus = make_bus()
    sock = raw_sub(ctx, bus, b"daemon.stopping", b"daemon.heartbeat")
    wait_for_heartbeat(sock)
    emit(journal, bus, 1, "daemon.stopping")  # the daemon journals this, notifies, then stops the bus
    bus.stop()
    assert [t for t, _ in drain(sock)] == [b"daemon.stopping"]
    assert not (state / "endpoints.json").exists()
