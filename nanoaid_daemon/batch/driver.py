"""The batch driver: keeps every worker busy and is the only process that writes the journal.

Each pending file goes through two tasks. A *hash* task gives its frame id; the driver then
decides exactly as the daemon does: content the journal already finished is recorded as known
(no second event), a second copy of content in flight waits for the first, anything else is
*processed* by a worker through the daemon's pipeline. The worker writes the sidecar (atomically,
under its final name); the driver commits ``complete``/``reject``/``fail`` with its event, in the
order results arrive. A frame is done only once its journal row is committed, so an interrupted
run loses nothing: the next run hashes it again and rewrites the same sidecar in place.

A frame whose processing fails, or whose worker dies under it, is retried once, alone, on another
worker; a second failure records ``frame.failed`` with the reason.
"""
from __future__ import annotations

import logging
import queue
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..commit import Committer
from ..events import Summary
from ..journal import Journal
from ..states import Outcome
from .discovery import chunked
from .engines import BatchAborted, TaskLost
from .progress import Progress
from .report import BatchReport
from .tasks import ChunkResult, Item, ItemResult, WorkerSpec, hash_chunk, process_chunk

__all__ = ["Driver"]

log = logging.getLogger(__name__)


def _fid(item: Item) -> str:
    """A hashed item's frame id (only hashed items reach the commits that need one)."""
    if item.frame_id is None:
        raise ValueError(f"{item.path} has no frame id yet")
    return item.frame_id


@dataclass
class _Task:
    kind: str  # "hash" or "process"
    items: list[Item]
    retry: bool = False
    avoid: str | None = None


@dataclass
class _Claim:
    """Content being processed under one path; other paths with the same content wait for it."""

    item: Item
    waiters: list[Item] = field(default_factory=list)


class Driver:
    def __init__(self, engine, journal: Journal, spec: WorkerSpec, report: BatchReport, *, chunk_size: int,
                 progress: Progress | None = None, bus: Any = None, tick_s: float = 0.5):
        self.engine = engine
        self.journal = journal
        self.spec = spec
        self.report = report
        self.chunk_size = chunk_size
        self.progress = progress
        self.bus = bus
        self.tick_s = tick_s
        self._done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._inflight: dict[Any, _Task] = {}
        self._hash_q: deque[list[Item]] = deque()
        self._process_q: deque[list[Item]] = deque()
        self._retry_q: deque[_Task] = deque()
        self._claims: dict[str, _Claim] = {}
        self.commit = Committer(journal, self._notify)

    # -- the loop ------------------------------------------------------------------------------
    def run(self, pending: list[Item]) -> None:
        self._hash_q.extend(chunked(pending, self.chunk_size))
        while self._hash_q or self._process_q or self._retry_q or self._inflight:
            self._fill()
            try:
                future = self._done.get(timeout=self.tick_s)
            except queue.Empty:
                self._show()
                continue
            self._finish(future)
            self._show()

    def in_flight(self) -> list[Any]:
        return list(self._inflight)

    def _fill(self) -> None:
        while len(self._inflight) < self.engine.slots():
            task = self._next_task()
            if task is None:
                return
            if task.kind == "hash":
                future = self.engine.submit(hash_chunk, task.items, avoid=task.avoid)
            else:
                future = self.engine.submit(process_chunk, self.spec, task.items, avoid=task.avoid)
            self._inflight[future] = task
            future.add_done_callback(self._done.put)

    def _next_task(self) -> _Task | None:
        """Retries first; then processing, but hash ahead while fewer chunks are ready than slots."""
        if self._retry_q:
            return self._retry_q.popleft()
        ready_enough = len(self._process_q) >= self.engine.slots() or not self._hash_q
        if self._process_q and ready_enough:
            return _Task("process", self._process_q.popleft())
        if self._hash_q:
            return _Task("hash", self._hash_q.popleft())
        return None

    def _finish(self, future: Any) -> None:
        task = self._inflight.pop(future)
        try:
            result, where = self.engine.collect(future)
        except TaskLost as lost:
            self._fill()
            self._lost(task, lost)
            return
        if result.setup_error:
            raise BatchAborted(f"worker {result.worker} cannot load the pipeline: {result.setup_error}")
        self._fill()  # the workers get new chunks before the driver spends time committing
        done = sum(r.kind == "processed" for r in result.items)
        self.report.note_chunk(result.worker, done, result.cpu_s, result.max_rss_mb)
        if task.retry:
            self.report.note_retry(task.items[0].path, task.avoid, where)
        if task.kind == "hash":
            self._hashed(result)
        else:
            self._processed(task, result, where)

    def _show(self) -> None:
        if self.progress is not None:
            r = self.report
            self.progress.update(r.finished, f"rejected {r.rejected}, failed {r.failed}")

    # -- results -------------------------------------------------------------------------------
    def _hashed(self, result: ChunkResult) -> None:
        ready = []
        for r in result.items:
            item = Item(r.path, r.size if r.size is not None else -1, r.mtime_ns if r.mtime_ns is not None else -1,
                        r.frame_id)
            if r.kind != "hashed":
                self._not_processed(item, r)
            elif self._claim(item):
                ready.append(item)
        if ready:
            self._process_q.append(ready)

    def _claim(self, item: Item) -> bool:
        """True when this path should be processed now; otherwise it is recorded or waits."""
        known = self.journal.frame(_fid(item))
        if known is not None and known.state == "processed":
            self._record_known(item)
            return False
        claim = self._claims.get(_fid(item))
        if claim is not None:
            claim.waiters.append(item)
            return False
        self._claims[_fid(item)] = _Claim(item)
        return True

    def _processed(self, task: _Task, result: ChunkResult, where: str) -> None:
        by_path = {item.path: item for item in task.items}
        for r in result.items:
            item = by_path[r.path]
            if r.kind == "processed":
                self._complete(item, r)
            elif r.kind == "failed" and not task.retry:
                log.warning("%s failed on %s (%s: %s); retrying it once elsewhere", r.path, where, r.code, r.reason)
                self.report.retried += 1
                self._retry_q.append(_Task("process", [item], retry=True, avoid=where))
            elif r.kind == "failed":
                self._fail(item, f"{r.code}: {r.reason}", r.reason or "")
            else:
                self._not_processed(item, r)

    def _lost(self, task: _Task, lost: TaskLost) -> None:
        self.report.tasks_lost += 1
        if task.retry:
            (item,) = task.items
            self.report.note_retry(item.path, task.avoid, lost.where)
            self._fail(item, f"WorkerLost: {lost.reason}, twice (retried once elsewhere)", lost.reason)
            return
        log.warning("a %s chunk of %d frames was lost (%s); each is retried once elsewhere",
                    task.kind, len(task.items), lost.reason)
        for item in task.items:
            self.report.retried += 1
            self._retry_q.append(_Task(task.kind, [item], retry=True, avoid=lost.where))

    # -- journal commits: the daemon's own commit path (nanoaid_daemon.commit) -----------------
    def _complete(self, item: Item, r: ItemResult) -> None:
        outcome = self.commit.processed(item.path, size=item.size, mtime_ns=item.mtime_ns, frame_id=_fid(item),
                                        sidecar_path=r.sidecar_path or "", summary=Summary(**(r.summary or {})))
        if outcome == Outcome.PROCESSED:
            self.report.processed += 1
        else:  # finished meanwhile by another writer of this journal
            self._count_known(outcome)
        claim = self._claims.pop(_fid(item), None)
        for waiter in claim.waiters if claim else ():
            self._record_known(waiter)

    def _record_known(self, item: Item) -> None:
        self._count_known(self.commit.known(item.path, size=item.size, mtime_ns=item.mtime_ns,
                                            frame_id=_fid(item)))

    def _count_known(self, outcome: Outcome) -> None:
        if outcome == Outcome.DUPLICATE:
            self.report.duplicates += 1
        else:
            self.report.known += 1

    def _not_processed(self, item: Item, r: ItemResult) -> None:
        if r.kind == Outcome.REJECTED:
            self._reject(item, r.code or "unreadable", r.reason or "")
        elif r.kind == Outcome.GONE:
            self.report.vanished += 1
            self.commit.gone(item.path)
        else:  # changed while being read: the next run sees the new version
            self.report.changed += 1
        self._release(item)

    def _reject(self, item: Item, code: str, reason: str) -> None:
        self.commit.rejected(item.path, code, reason, size=item.size if item.size >= 0 else None,
                             mtime_ns=item.mtime_ns if item.mtime_ns >= 0 else None)
        self.report.note_rejected(item.path, code, reason)

    def _fail(self, item: Item, summary_reason: str, reason: str) -> None:
        self.commit.failed(item.path, summary_reason, size=item.size, mtime_ns=item.mtime_ns, frame_id=item.frame_id)
        self.report.note_failed(item.path, summary_reason)
        self._release(item)

    def _release(self, item: Item) -> None:
        """The claimant did not produce a sidecar: the next copy of the same content gets its turn."""
        if item.frame_id is None:
            return
        frame_id = item.frame_id
        claim = self._claims.pop(frame_id, None)
        if claim is None or claim.item.path != item.path:
            if claim is not None:
                self._claims[frame_id] = claim
            return
        if claim.waiters:
            nxt, rest = claim.waiters[0], claim.waiters[1:]
            self._claims[frame_id] = _Claim(nxt, rest)
            self._process_q.append([nxt])

    def _notify(self) -> None:
        if self.bus is not None:
            self.bus.notify()
