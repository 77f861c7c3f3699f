"""Micro-batching for worker threads that share one model, without a background thread.

Whoever asks while the model is idle runs at once, alone: no waiting for company, so a quiet
instrument sees no added latency. Requests that arrive while a run is in progress queue up; when
it ends, one of the waiting callers takes everything queued (up to ``max_rows`` rows) and runs it
as one batch, and each caller gets its own rows back. The batch size therefore follows the
backlog by itself, and with no thread of its own there is nothing to start or stop.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

__all__ = ["Batcher", "BatchStats"]

#: ``run(stacked, names)``, or ``run(stacked, names, extra)`` when the requests carry a second input.
RunFn = Callable[..., dict[str, np.ndarray]]


@dataclass
class _Request:
    batch: np.ndarray
    outputs: tuple[str, ...]
    extra: np.ndarray | None = None  # a second input, row for row with ``batch`` (e.g. field widths)
    result: dict[str, np.ndarray] | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class BatchStats:
    """Counters for benchmarks and tests: runs made, rows run, the largest batch."""

    runs: int = 0
    rows: int = 0
    largest: int = 0


class Batcher:
    def __init__(self, run: RunFn, max_rows: int):
        self._run, self.max_rows = run, max(1, max_rows)
        self.stats = BatchStats()
        self._cv = threading.Condition()
        self._queue: list[_Request] = []
        self._busy = False

    def submit(self, batch: np.ndarray, outputs: Sequence[str],
               extra: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The requested outputs for ``batch`` (rows along axis 0), possibly run with others' rows.

        ``extra``, when given, is a second input with one row per row of ``batch``; it is stacked
        the same way and passed to the run function as its third argument.
        """
        request = _Request(batch, tuple(outputs), extra)
        with self._cv:
            self._queue.append(request)
            while not request.done:
                if self._busy:
                    self._cv.wait()
                else:
                    self._lead()
        if request.error is not None:
            raise request.error
        return request.result  # type: ignore[return-value]

    def _lead(self) -> None:
        """Run the head of the queue as one batch; entered and left holding the lock."""
        self._busy = True
        group = self._take()
        self._cv.release()
        try:
            self._run_group(group)
        finally:
            self._cv.acquire()
            self._busy = False
            self._cv.notify_all()

    def _take(self) -> list[_Request]:
        """The oldest request plus later ones of the same row shape, up to max_rows rows in all.

        A request of another shape (a malformed one) waits for its own run, so it can only fail
        itself, never the batch it would have joined.
        """
        head = self._queue.pop(0)
        group, rows, rest = [head], len(head.batch), []
        for request in self._queue:
            fits = (request.batch.shape[1:] == head.batch.shape[1:] and rows + len(request.batch) <= self.max_rows
                    and (request.extra is None) == (head.extra is None))
            if fits:
                group.append(request)
                rows += len(request.batch)
            else:
                rest.append(request)
        self._queue[:] = rest
        return group

    def _run_group(self, group: list[_Request]) -> None:
        try:
            names = list(dict.fromkeys(o for r in group for o in r.outputs))
            stacked = group[0].batch if len(group) == 1 else np.concatenate([r.batch for r in group])
            if group[0].extra is None:
                values = self._run(stacked, names)
            else:
                extras = [r.extra for r in group if r.extra is not None]
                values = self._run(stacked, names, extras[0] if len(group) == 1 else np.concatenate(extras))
            self.stats.runs += 1
            self.stats.rows += len(stacked)
            self.stats.largest = max(self.stats.largest, len(stacked))
            start = 0
            for r in group:
                stop = start + len(r.batch)
                r.result = {o: values[o][start:stop] for o in r.outputs}
                start = stop
        except Exception as exc:  # every caller of the batch hears about it
            for r in group:
                r.error = exc
        finally:
            for r in group:
                r.done = True

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Act as if a run were in progress, so requests queue up; on exit they run in batches."""
        with self._cv:
            while self._busy:
                self._cv.wait()
            self._busy = True
        try:
            yield
        finally:
            with self._cv:
                self._busy = False
                self._cv.notify_all()

    def pending(self) -> int:
        with self._cv:
            return len(self._queue)
