"""Follows the daemon's events and fans them out to the browsers' server-sent-event streams.

One ``Subscriber`` (the client library: replay + live, gap-free) runs in a background thread.
Each event it delivers updates the search index and goes into a ring buffer and to every open
stream. A page is rendered with the journal's last seq; its stream asks for events after that
seq, so nothing falls between the first response and the live updates, and nothing comes twice.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from ..bus.client import Subscriber
from ..events import Event
from .store import Store, wall_item

__all__ = ["Hub"]

log = logging.getLogger(__name__)
_KEEPALIVE_S = 15.0


class Hub:
    """The console's single subscriber; ``streams`` are the open SSE connections."""

    def __init__(self, state_dir: Path, store: Store, *, since: Callable[[], int | None],
                 on_event: Callable[[Event], None] | None = None, buffer: int = 2000):
        self.state_dir = Path(state_dir)
        self.store = store
        self.since = since
        self.on_event = on_event
        self._buffer: deque[tuple[int, str]] = deque(maxlen=buffer)
        self._lock = threading.Lock()
        self._streams: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = set()
        self._subscriber: Subscriber | None = None
        self._starter: threading.Thread | None = None
        self._stopped = False
        self.last_event_at: float | None = None
        self.delivered = 0

    # -- the subscriber thread ---------------------------------------------------------------
    def start(self) -> None:
        """Work out where to start (``since()`` may catch the search index up first), then subscribe."""
        self._starter = threading.Thread(target=self._start, name="nanoaid-console-start", daemon=True)
        self._starter.start()

    def _start(self) -> None:
        since = self.since()
        with self._lock:
            if self._stopped:
                return
            self._subscriber = Subscriber(state_dir=self.state_dir, since=since, backoff_max_s=2.0)
        self._subscriber.start(self._deliver)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        if self._starter is not None:
            self._starter.join(timeout=30)
        if self._subscriber is not None:
            self._subscriber.close()
        with self._lock:
            streams = list(self._streams)
        for loop, queue in streams:
            _put(loop, queue, None)

    @property
    def last_seq(self) -> int | None:
        return self._subscriber.last_seq if self._subscriber else None

    @property
    def stats(self) -> dict:
        return dict(self._subscriber.stats) if self._subscriber else {}

    def _deliver(self, event: Event) -> None:
        self.last_event_at = time.time()
        self.delivered += 1
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # the index is derived data; the live page must keep going
                log.exception("console: indexing event %s failed", event.seq)
        message = self._message(event)
        if message is None or event.seq is None:
            return
        with self._lock:
            self._buffer.append((event.seq, message))
            streams = list(self._streams)
        for loop, queue in streams:
            _put(loop, queue, (event.seq, message))

    def _message(self, event: Event) -> str | None:
        """The JSON a browser receives: the wall tile, plus the review count that may have changed."""
        if not event.type.startswith(("frame.", "label.")):
            return None
        frame = self.store.frame(event.frame_id) if event.frame_id else None
        payload = {"kind": event.type, **wall_item(event, frame).as_json(),
                   "review_waiting": self.store.review_waiting()}
        if event.summary is not None:
            payload.update(operator=event.summary.operator, previous_label=event.summary.previous_label)
        return json.dumps(payload)

    # -- the browser side --------------------------------------------------------------------
    async def stream(self, since: int) -> AsyncIterator[str]:
        """SSE text: buffered events after ``since``, then live ones, with keep-alive comments."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(maxsize=10_000)
        with self._lock:
            backlog = [item for item in self._buffer if item[0] > since]
            self._streams.add((loop, queue))
        try:
            yield "retry: 2000\n\n"
            for seq, message in backlog:
                since = seq
                yield _sse(seq, message)
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), _KEEPALIVE_S)
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if item is None:
                    return
                if item[0] > since:
                    since = item[0]
                    yield _sse(*item)
        finally:
            with self._lock:
                self._streams.discard((loop, queue))


def _sse(seq: int, message: str) -> str:
    return f"id: {seq}\nevent: frame\ndata: {message}\n\n"


def _put(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue, item) -> None:
    def put() -> None:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:  # a stalled browser: it reconnects with Last-Event-ID and is served from the buffer
            pass
    try:
        loop.call_soon_threadsafe(put)
    except RuntimeError:  # that loop is closed: the stream is gone
        pass
