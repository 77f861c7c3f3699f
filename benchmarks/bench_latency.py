#!/usr/bin/env python3
"""The daemon's settle → event latency: a frame's write completes, how long until its event commits.

    .venv/bin/python benchmarks/bench_latency.py [--frames 60] [--gap 0.3] [--json out.json] [--quick]

A real daemon (in this process, with its watcher, settle stage, worker pool and journal) watches a
temporary folder. Frames are saved one at a time, ``--gap`` seconds apart, two ways: written in
place (the daemon must see size and mtime hold still for ``settle.quiet_s`` first) and written
under a temporary name then renamed into place (complete at once). Latency is the time from the
writer closing (or renaming) the file to the journal row that makes the frame ``processed`` (the
same transaction that appends ``frame.processed``); the bus publishes from there. Both clocks
are this host's ``time.time()``.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

from nanoaid_daemon.config import load_settings
from nanoaid_daemon.daemon import Daemon


def frame_bytes(i: int, shape: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.random.default_rng(i).integers(0, 256, shape, dtype=np.uint8))
    return buf.getvalue()


def _bus_factory():
    """The daemon's own bus when it is installed (so its cost is included), else none."""
    try:
        from nanoaid_daemon.bus import Bus  # noqa: F401
    except ImportError:
        return None, False
    from nanoaid_daemon.daemon import _default_bus_factory

    return _default_bus_factory, True


def _processed_at(journal: Path) -> dict[str, float]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=10) as db:
        rows = db.execute("SELECT path, processed_at FROM frames WHERE processed_at IS NOT NULL")
        return {path: at for path, at in rows}


def measure(mode: str, count: int, gap: float, shape: tuple[int, int], work: Path) -> dict:
    watch, state = work / f"watch-{mode}", work / f"state-{mode}"
    watch.mkdir(parents=True)
    settings = load_settings(overrides={"watch": {"root": str(watch)}, "state_dir": str(state)})
    bus_factory, with_bus = _bus_factory()
    daemon = Daemon(settings, bus_factory=bus_factory)
    daemon.start()
    written: dict[str, float] = {}
    try:
        for i in range(count):
            data, dest = frame_bytes(i, shape), watch / f"frame_{i:04d}.tif"
            if mode == "rename":
                part = watch / f"frame_{i:04d}.tif.part"
                part.write_bytes(data)
                os.rename(part, dest)
            else:
                with open(dest, "wb") as fh:
                    fh.write(data)
            written[str(dest)] = time.time()
            time.sleep(gap)
        deadline = time.monotonic() + 60
        while len(_processed_at(state / "journal.sqlite3")) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        done = _processed_at(state / "journal.sqlite3")
    finally:
        daemon.stop()
    lat = sorted((done[p] - t) * 1000 for p, t in written.items() if p in done)
    p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))] if lat else None
    return {"mode": mode, "frames": count, "events": len(lat), "median_ms": statistics.median(lat) if lat else None,
            "p99_ms": p99, "min_ms": lat[0] if lat else None, "max_ms": lat[-1] if lat else None,
            "quiet_s": settings.settle.quiet_s, "poll_s": settings.settle.poll_s, "bus": with_bus,
            "observer": daemon.observer_kind}


def table(result: dict) -> str:
    lines = [f"daemon settle -> event latency ({result['size']} frames, {result['gap_s']} s apart, "
             f"observer {result['runs'][0]['observer']}, bus {'on' if result['runs'][0]['bus'] else 'not installed'})",
             "", f"{'how the frame was saved':<36}{'median ms':>10}{'p99 ms':>10}{'max ms':>10}{'events':>8}"]
    for r in result["runs"]:
        label = {"inplace": f"written in place (quiet {r['quiet_s']} s)", "rename": "renamed into place"}[r["mode"]]
        lines.append(f"{label:<36}{r['median_ms']:>10.1f}{r['p99_ms']:>10.1f}{r['max_ms']:>10.1f}"
                     f"{r['events']:>5}/{r['frames']}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="frames per mode")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between two saved frames")
    parser.add_argument("--size", default="1024x768", help="WIDTHxHEIGHT of each frame")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--quick", action="store_true", help="10 frames per mode, for smoke checks")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.gap = 10, 0.1
    width, height = map(int, args.size.lower().split("x"))
    work = Path(tempfile.mkdtemp(prefix="nanoaid-bench-latency-"))
    try:
        runs = [measure(mode, args.frames, args.gap, (height, width), work) for mode in ("inplace", "rename")]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"size": args.size, "gap_s": args.gap, "runs": runs}
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if all(r["events"] == r["frames"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
