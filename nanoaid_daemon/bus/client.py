"""Client library for instrument software: every event exactly once, in order, even across restarts.

    from nanoaid_daemon.bus.client import Subscriber

    sub = Subscriber(state_dir="/var/lib/nanoaid", since=last_seq_you_saved, types=("frame.",))
    for event in sub:                      # typed nanoaid_daemon.events.Event objects
        handle(event)
        save(event.seq)                    # persist after handling: a restart resumes here

How it stays gap-free: the subscriber subscribes to the PUB socket first, then replays everything
after ``since`` from the replay endpoint, then follows the live stream. Sequence numbers are
gap-free, so a jump — or a heartbeat whose ``last_seq`` is ahead — means something was missed
(a slow consumer, a full queue, a restart); it is fetched by replay before anything newer is
delivered. Duplicates are dropped. When the daemon goes quiet (no heartbeat for three intervals)
the subscriber reconnects, re-reading ``STATE/endpoints.json``, with backoff capped at 32 s.
JSON only: nothing received is ever unpickled. Docs: docs/events.md.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import zmq
from pydantic import ValidationError

from ..errors import BusError, ConfigError
from ..events import Event
from .endpoints import Endpoints, read_endpoints
from .protocol import RequestRejected
from .wire import Requester, curve_client, load_client_key

__all__ = ["Subscriber", "send_correction", "load_client_key"]

log = logging.getLogger(__name__)
_POLL_S = 0.1


class _Lost(Exception):
    """The connection went quiet or a request timed out: reconnect."""


class Subscriber:
    """Iterate for events, or ``run(callback)`` / ``start(callback)``; ``close()`` from any thread.

    ``since``: deliver events with ``seq`` greater than this (None: only those from now on).
    ``types``: type prefixes to deliver, e.g. ``("frame.", "label.")``; heartbeats are never delivered.
    ``idle_timeout``: stop iterating after this many seconds without a delivered event.
    ``client_key``: a ``.key_secret`` file (or ``(public, secret)`` z85 pair) when the daemon uses CURVE.
    """

    def __init__(self, *, state_dir: str | Path | None = None, pub: str | None = None, replay: str | None = None,
                 since: int | None = None, types: Iterable[str] = (), client_key=None, server_key: str | None = None,
                 idle_timeout: float | None = None, heartbeat_s: float = 1.0, rcvhwm: int | None = None,
                 request_timeout: float = 5.0, backoff_max_s: float = 32.0, context: zmq.Context | None = None):
        if state_dir is None and (pub is None or replay is None):
            raise ConfigError("Subscriber needs state_dir= (a daemon's state folder) or both pub= and replay=")
        if since is not None and since < 0:
            raise ConfigError(f"since must be a sequence number >= 0, not {since}")
        self._state_dir = Path(state_dir) if state_dir is not None else None
        self._explicit = (pub, replay)
        self._last = since
        self.types = tuple(types)
        if len(self.types) > 16 or any(not isinstance(t, str) or len(t) > 64 for t in self.types):
            raise ConfigError("types: at most 16 type prefixes of at most 64 characters, e.g. ('frame.',)")
        self._client_key = load_client_key(client_key) if client_key is not None else None
        self._server_key = server_key
        self.idle_timeout = idle_timeout
        self._heartbeat_s = heartbeat_s
        self._rcvhwm = rcvhwm
        self._request_timeout = request_timeout
        self._backoff_max = min(backoff_max_s, 32.0)
        self._context = context
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle_since = time.monotonic()
        self.stats = {"delivered": 0, "duplicates": 0, "gaps": 0, "replayed": 0, "reconnects": 0}

    # -- public surface ----------------------------------------------------------------------
    @property
    def last_seq(self) -> int | None:
        """The newest sequence number handled (delivered or filtered out): persist it to resume."""
        return self._last

    def __iter__(self) -> Iterator[Event]:
        return self._run()

    def run(self, callback: Callable[[Event], None]) -> None:
        """Call ``callback`` for each event until ``close()`` or the idle timeout."""
        for event in self:
            callback(event)

    def start(self, callback: Callable[[Event], None]) -> Subscriber:
        """Run the callback loop in a background thread; ``close()`` stops and joins it."""
        self._thread = threading.Thread(target=self.run, args=(callback,), name="nanoaid-subscriber")
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop from any thread; iteration ends within about 0.1 s."""
        self._closed.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the loop ----------------------------------------------------------------------------
    def _run(self) -> Iterator[Event]:
        ctx = self._context or zmq.Context()
        delay = 0.1
        self._idle_since = time.monotonic()
        try:
            while not self._done():
                conn = self._open(ctx)
                if conn is None:
                    self._pause(delay)
                    delay = min(delay * 2, self._backoff_max)
                    continue
                try:
                    for event in self._follow(conn):
                        delay = 0.1
                        yield event
                    delay = 0.1
                except _Lost as exc:
                    self.stats["reconnects"] += 1
                    log.info("nanoaid subscriber: %s; reconnecting in %.1f s", exc, delay)
                    self._pause(delay)
                    delay = min(delay * 2, self._backoff_max)
                finally:
                    conn.close()
        finally:
            if self._context is None:
                ctx.destroy(linger=0)

    def _done(self) -> bool:
        return self._closed.is_set() or self._idle_left() <= 0

    def _idle_left(self) -> float:
        if self.idle_timeout is None:
            return float("inf")
        return self.idle_timeout - (time.monotonic() - self._idle_since)

    def _pause(self, delay: float) -> None:
        self._closed.wait(max(0.0, min(delay, self._idle_left())))

    def _open(self, ctx: zmq.Context) -> _Connection | None:
        if self._state_dir is not None:
            try:
                found = read_endpoints(self._state_dir)
            except BusError as exc:
                log.warning("nanoaid subscriber: %s", exc)
                return None
            if found is None:
                log.debug("nanoaid subscriber: no daemon endpoints in %s yet", self._state_dir)
                return None
        else:
            found = Endpoints(pub=self._explicit[0], replay=self._explicit[1], command="",
                              heartbeat_s=self._heartbeat_s)
        server_key = self._server_key or found.curve_server_key
        return _Connection(ctx, found, server_key, self._client_key, self._rcvhwm)

    def _follow(self, conn: _Connection) -> Iterator[Event]:
        if self._last is None:
            self._last = int(self._request(conn, {"op": "ping"})[0]["last_seq"])
        yield from self._catch_up(conn)
        stale_after = 3 * conn.heartbeat_s + 1.0
        last_heard = time.monotonic()
        while not self._done():
            if not conn.sub.poll(int(1000 * min(_POLL_S, max(self._idle_left(), 0.001)))):
                if time.monotonic() - last_heard > stale_after:
                    raise _Lost(f"no heartbeat from {conn.endpoints.pub} for {stale_after:.0f} s")
                continue
            last_heard = time.monotonic()
            event = _decode(conn.sub.recv_multipart())
            if event is not None:
                yield from self._on_live(conn, event)

    def _position(self) -> int:
        """The newest seq handled; resolved when the first connection opens (``since=None``: "from now")."""
        assert self._last is not None, "the position is resolved before any event is followed"
        return self._last

    def _on_live(self, conn: _Connection, event: Event) -> Iterator[Event]:
        last = self._position()
        if event.type == "daemon.heartbeat":  # its last_seq may trail the journal: replay can run ahead
            if (event.last_seq or 0) > last:
                self.stats["gaps"] += 1
                yield from self._catch_up(conn)
        elif event.seq is None or event.seq <= last:
            self.stats["duplicates"] += 1
        elif event.seq > last + 1:
            self.stats["gaps"] += 1
            yield from self._catch_up(conn)
        else:
            self._last = event.seq
            if self._wanted(event):
                yield self._delivered(event)

    def _catch_up(self, conn: _Connection) -> Iterator[Event]:
        """Replay everything after ``last_seq`` until the daemon says there is no more."""
        while True:
            header, frames = self._request(conn, {"op": "since", "seq": self._position(), "types": list(self.types)})
            for frame in frames:
                event = _decode([b"", frame])
                if event is not None and event.seq is not None and event.seq > self._position():
                    self._last = event.seq
                    self.stats["replayed"] += 1
                    if self._wanted(event):
                        yield self._delivered(event)
            self._last = max(self._position(), int(header["until"]))
            if int(header["last_seq"]) < self._last:
                self._warn_behind(int(header["last_seq"]))
            if not header.get("more"):
                return

    def _request(self, conn: _Connection, payload: dict) -> tuple[dict, list[bytes]]:
        try:
            return conn.replay.request(payload, timeout=min(self._request_timeout, max(self._idle_left(), 0.1)))
        except RequestRejected:
            raise
        except BusError as exc:
            raise _Lost(str(exc)) from None

    def _wanted(self, event: Event) -> bool:
        return not self.types or event.type.startswith(self.types)

    def _delivered(self, event: Event) -> Event:
        self.stats["delivered"] += 1
        self._idle_since = time.monotonic()
        return event

    def _warn_behind(self, daemon_last: int) -> None:
        log.warning("nanoaid subscriber: the daemon's newest seq is %d but this subscriber is at %d: was the "
                    "journal replaced? Start again with since=0 to receive its events", daemon_last, self._last)


def _decode(parts: list[bytes]) -> Event | None:
    if len(parts) != 2:
        return None
    try:
        return Event.model_validate_json(parts[1])
    except ValidationError as exc:
        log.warning("nanoaid subscriber: skipped a message that is not a valid event: %s", exc.errors()[0]["msg"])
        return None


class _Connection:
    """The sockets of one connection attempt; used and closed by the iterating thread only."""

    def __init__(self, ctx: zmq.Context, endpoints: Endpoints, server_key, client_key, rcvhwm):
        self.endpoints = endpoints
        self.heartbeat_s = endpoints.heartbeat_s
        self.sub = ctx.socket(zmq.SUB)
        self.sub.linger = 0
        try:
            if rcvhwm is not None:
                self.sub.rcvhwm = rcvhwm
            curve_client(self.sub, server_key, client_key)
            self.sub.setsockopt(zmq.SUBSCRIBE, b"")  # all topics: gap detection needs every seq
            self.sub.connect(endpoints.pub)
            self.replay = Requester(ctx, endpoints.replay, server_key=server_key, client_key=client_key)
        except BaseException:
            self.sub.close(linger=0)
            raise

    def close(self) -> None:
        self.sub.close(linger=0)
        self.replay.close()


def send_correction(frame_id: str, label: str, *, operator: str, comment: str | None = None,
                    state_dir: str | Path | None = None, command: str | None = None, client_key=None,
                    server_key: str | None = None, timeout: float = 10.0,
                    context: zmq.Context | None = None) -> dict:
    """Tell the daemon "frame ``frame_id`` is really ``label``"; returns the reply (with the event's seq).

    Raises ``RequestRejected`` (unknown frame, unknown class …) or ``BusError`` (no daemon answered).
    """
    if command is None:
        found = read_endpoints(Path(state_dir)) if state_dir is not None else None
        if found is None:
            raise BusError(f"no running daemon found in {state_dir} (no endpoints.json)")
        command, server_key = found.command, server_key or found.curve_server_key
    keys = load_client_key(client_key) if client_key is not None else None
    ctx = context or zmq.Context()
    requester = Requester(ctx, command, server_key=server_key, client_key=keys)
    try:
        payload = {"op": "label", "frame_id": frame_id, "label": label, "operator": operator}
        if comment is not None:
            payload["comment"] = comment
        return requester.request(payload, timeout=timeout)[0]
    finally:
        requester.close()
        if context is None:
            ctx.destroy(linger=0)
