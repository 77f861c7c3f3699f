"""What a batch run did: counters kept by the driver, the final summary, and its two renderings."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

__all__ = ["BatchReport", "WorkerStats", "render_text"]

_EXAMPLES = 5


@dataclass
class WorkerStats:
    chunks: int = 0
    frames: int = 0
    cpu_s: float = 0.0
    max_rss_mb: float | None = None


@dataclass
class BatchReport:
    root: str
    state_dir: str
    engine: str = ""
    chunk_size: int = 0
    found: int = 0
    already_done: int = 0
    pending: int = 0
    processed: int = 0
    known: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    vanished: int = 0
    changed: int = 0
    retried: int = 0
    tasks_lost: int = 0
    wall_s: float = 0.0
    driver_cpu_s: float = 0.0
    worker_cpu_s: float = 0.0
    interrupted: bool = False
    aborted: str | None = None
    rejected_by_code: dict[str, int] = field(default_factory=dict)
    rejected_examples: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    retries: list[dict[str, str | None]] = field(default_factory=list)
    workers: dict[str, WorkerStats] = field(default_factory=dict)

    # -- bookkeeping -------------------------------------------------------------------------
    @property
    def finished(self) -> int:
        """Pending files that reached an outcome in this run (the progress numerator)."""
        return (self.processed + self.known + self.duplicates + self.rejected + self.failed + self.vanished
                + self.changed)

    def note_rejected(self, path: str, code: str, reason: str) -> None:
        self.rejected += 1
        counts = Counter(self.rejected_by_code)
        counts[code] += 1
        self.rejected_by_code = dict(counts)
        if len(self.rejected_examples) < _EXAMPLES * 4:
            self.rejected_examples.append({"path": path, "code": code, "reason": reason})

    def note_failed(self, path: str, reason: str) -> None:
        self.failed += 1
        self.failures.append({"path": path, "reason": reason})

    def note_retry(self, path: str, failed_on: str | None, retried_on: str | None) -> None:
        if len(self.retries) < 1000:
            self.retries.append({"path": path, "failed_on": failed_on, "retried_on": retried_on})

    def note_chunk(self, worker: str, frames: int, cpu_s: float, rss_mb: float | None) -> None:
        stats = self.workers.setdefault(worker, WorkerStats())
        stats.chunks += 1
        stats.frames += frames
        stats.cpu_s += cpu_s
        if rss_mb is not None:
            stats.max_rss_mb = max(stats.max_rss_mb or 0.0, rss_mb)
        self.worker_cpu_s += cpu_s

    # -- figures -----------------------------------------------------------------------------
    @property
    def frames_per_s(self) -> float:
        return self.processed / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_s_per_frame(self) -> float | None:
        """Worker plus driver CPU seconds per processed frame (hashing and journal included)."""
        if not self.processed:
            return None
        return (self.worker_cpu_s + self.driver_cpu_s) / self.processed

    @property
    def exit_code(self) -> int:
        if self.aborted or self.interrupted:
            return 130 if self.interrupted and not self.aborted else 1
        return 1 if (self.rejected or self.failed) else 0

    def as_dict(self) -> dict:
        doc = asdict(self)
        doc.update(frames_per_s=round(self.frames_per_s, 3), exit_code=self.exit_code,
                   cpu_s_per_frame=None if self.cpu_s_per_frame is None else round(self.cpu_s_per_frame, 6))
        for key in ("wall_s", "driver_cpu_s", "worker_cpu_s"):
            doc[key] = round(doc[key], 3)
        for stats in doc["workers"].values():
            stats["cpu_s"] = round(stats["cpu_s"], 3)
        return doc


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _by_code(counts: dict[str, int]) -> str:
    return ", ".join(f"{code}: {n}" for code, n in sorted(counts.items()))


def render_text(r: BatchReport) -> str:
    """The final summary a person reads."""
    if r.aborted:
        head = f"batch stopped: {r.aborted}"
    elif r.interrupted:
        head = "batch interrupted: committed frames are kept; run again with --resume to continue"
    else:
        head = "batch finished"
    lines = [head,
             f"  archive     {r.root}  ({r.found} frames found, {r.already_done} already done before this run)",
             f"  engine      {r.engine}, chunks of {r.chunk_size}",
             f"  processed   {r.processed}",
             f"  skipped     {r.known + r.duplicates} by content hash ({r.duplicates} duplicate copies)",
             f"  rejected    {r.rejected}" + (f"  ({_by_code(r.rejected_by_code)})" if r.rejected else ""),
             f"  failed      {r.failed}",
             f"  retried     {r.retried}" + (f"  (once each, on another worker; {r.tasks_lost} chunks lost with "
                                               "their worker)" if r.retried else "")]
    for example in r.rejected_examples[:_EXAMPLES]:
        reason = example["reason"].removeprefix(f"{example['path']}: ")
        lines.append(f"      rejected {example['path']}: {reason}")
    for failure in r.failures[:_EXAMPLES]:
        lines.append(f"      failed   {failure['path']}: {failure['reason']}")
    if r.vanished or r.changed:
        lines.append(f"  not done    {r.vanished} vanished, {r.changed} changed while being read (run again)")
    per_frame = r.cpu_s_per_frame
    lines += [f"  wall time   {_clock(r.wall_s)} ({r.frames_per_s:.1f} frames/s)",
              "  CPU time    " + (f"{per_frame * 1000:.1f} ms per frame" if per_frame is not None else "n/a")
              + f" (workers {r.worker_cpu_s:.1f} s, driver {r.driver_cpu_s:.1f} s)"]
    rss = [s.max_rss_mb for s in r.workers.values() if s.max_rss_mb is not None]
    if rss:
        lines.append(f"  memory      {max(rss):.0f} MB peak per worker ({len(r.workers)} worker processes used)")
    return "\n".join(lines)
