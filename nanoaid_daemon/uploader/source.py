"""Where the uploader's events come from.

An event source is any iterable of :class:`~nanoaid_daemon.events.Event` in seq order, built
for a starting point (``since``: the last seq the uploader durably accepted) and optionally
closable so a blocked iteration can be ended at shutdown. In service the source is the daemon's
client library, which replays from the journal and then follows live, healing gaps. A JSON-lines
stream of events (as ``nanoaid events`` prints them) is the other source: a file to follow, or
standard input, for pipelines and for replaying an exported event log.
"""
from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import ValidationError

from ..errors import ConfigError
from ..events import Event

__all__ = ["EventSource", "SourceFactory", "subscriber_source", "JsonLinesSource", "jsonl_factory", "list_factory"]

log = logging.getLogger(__name__)

#: Subscription topics the uploader needs: processed frames and corrections.
TOPICS = ("frame.", "label.")


@runtime_checkable
class EventSource(Protocol):
    def __iter__(self) -> Iterator[Event]: ...


SourceFactory = Callable[[int], Iterable[Event]]


def subscriber_source(daemon_state: Path, since: int) -> Iterable[Event]:
    """The daemon's events after ``since``, through its client library (endpoints from its state dir).

    The Subscriber replays from the daemon's journal, then follows live, healing gaps; ``close()``
    from another thread ends the iteration. Imported here so commands that only search never load ZeroMQ.
    """
    from ..bus.client import Subscriber

    return Subscriber(state_dir=Path(daemon_state), since=since, types=TOPICS)


def list_factory(events: Iterable[Event]) -> SourceFactory:
    """A finite source for tests and one-off imports: the given events after ``since``."""
    events = list(events)
    return lambda since: [e for e in events if e.seq is None or e.seq > since]


def jsonl_factory(path: str | Path, *, follow: bool, poll_s: float = 0.2) -> SourceFactory:
    return lambda since: JsonLinesSource(path, since=since, follow=follow, poll_s=poll_s)


class JsonLinesSource:
    """Events as JSON lines from a file (optionally followed as it grows) or from stdin (``-``)."""

    def __init__(self, path: str | Path, *, since: int = 0, follow: bool = False, poll_s: float = 0.2):
        self.path, self.since, self.follow, self.poll_s = str(path), since, follow, poll_s
        self._closed = threading.Event()

    def close(self) -> None:
        self._closed.set()

    def __iter__(self) -> Iterator[Event]:
        for number, line in self._lines():
            event = self._parse(line, number)
            if event is not None and event.seq is not None and event.seq > self.since:
                yield event

    def _parse(self, line: str, number: int) -> Event | None:
        if not line.strip():
            return None
        try:
            return Event.model_validate_json(line)
        except (ValidationError, json.JSONDecodeError) as exc:
            log.error("%s line %d is not a nanoaid.event/1 document, skipped: %s", self.path, number,
                      str(exc).splitlines()[0])
            return None

    def _lines(self) -> Iterator[tuple[int, str]]:
        if self.path == "-":
            yield from enumerate(sys.stdin, 1)
            return
        try:
            fh = open(self.path, encoding="utf-8")
        except FileNotFoundError:
            if not self.follow:
                raise ConfigError(f"event file {self.path} does not exist") from None
            if self._closed.wait(self.poll_s):
                return
            yield from self._lines()
            return
        with fh:
            yield from self._read(fh)

    def _read(self, fh) -> Iterator[tuple[int, str]]:
        number, partial = 0, ""
        while not self._closed.is_set():
            chunk = fh.readline()
            if chunk.endswith("\n"):
                number += 1
                yield number, partial + chunk
                partial = ""
            elif chunk:
                partial += chunk  # a line still being written
            elif not self.follow:
                if partial:
                    yield number + 1, partial
                return
            else:
                self._closed.wait(self.poll_s)
