#!/usr/bin/env python3
"""The operator console: review-queue page time with 10,000 frames, and event → DOM latency.

    .venv/bin/python benchmarks/bench_console.py [--frames 10000] [--loads 200] [--updates 30]
                                                 [--json out.json] [--quick]

1. **Review queue.** A journal holds ``--frames`` processed frames (all waiting for review, each
   with a real sidecar and PNG frame). ``nanoaid console`` runs as its own process; the review
   page is loaded ``--loads`` times. Server time is the console's own ``Server-Timing`` figure
   (request in → response ready, rendering included); wall time is what the client waited.
2. **Live latency.** A real daemon (bus on loopback, analyzers off so the figure is the console's
   and the bus's share) and the console run; Debian's chromium shows the live page. Frames are
   saved one at a time; latency is the browser's clock when the frame's tile enters the DOM
   minus the ``time`` of its ``frame.processed`` event (stamped just before the journal commit).
   Both clocks are this host's.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from PIL import Image  # noqa: E402

from nanoaid_daemon.events import Event, Summary  # noqa: E402
from nanoaid_daemon.journal import Journal  # noqa: E402
from nanoaid_daemon.sidecar import (  # noqa: E402
    CLASSES,
    Classification,
    FrameInfo,
    ModelRef,
    Provenance,
    Sidecar,
    Software,
    Thresholds,
    sidecar_name,
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def fill_journal(state: Path, frames: Path, count: int) -> None:
    """``count`` processed frames in review, committed in batches (one fsync per batch)."""
    journal = Journal(state / "journal.sqlite3")
    frames.mkdir(parents=True)
    try:
        for start in range(0, count, 1000):
            with journal._write() as db:
                for i in range(start, min(start + 1000, count)):
                    _one_frame(journal, db, frames, i)
    finally:
        journal.close()


def _one_frame(journal: Journal, db, folder: Path, i: int) -> None:
    img = Image.new("L", (64, 48), color=(i * 37) % 256)
    for k, byte in enumerate(i.to_bytes(3, "big")):  # unique content, so unique frame ids
        img.putpixel((k, 0), byte)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    name = f"frame_{i:05d}.png"
    (folder / name).write_bytes(buf.getvalue())
    frame_id = hashlib.sha256(buf.getvalue()).hexdigest()
    label = CLASSES[i % len(CLASSES)]
    scores = {c: (0.55 if c == label else 0.05) for c in CLASSES}
    sidecar = Sidecar(
        frame=FrameInfo(name=name, path=name, sha256=frame_id, size_bytes=len(buf.getvalue()), media_type="image/png",
                        width_px=64, height_px=48, dtype="uint8", pages=1, databar_rows=0, reader="generic"),
        classification=Classification(model=ModelRef(name="m", version="1", sha256="0" * 64), scores=scores,
                                      label=label, score=0.55, decision="review", thresholds=Thresholds(),
                                      suggestions=[label, CLASSES[(i + 1) % len(CLASSES)]]),
        provenance=Provenance(software=Software(version="bench"), config_hash="c"))
    sidecar_path = folder / sidecar_name(name)
    sidecar_path.write_text(sidecar.to_json())
    event = Event(type="frame.processed", frame_id=frame_id, frame_path=str(folder / name),
                  sidecar_path=str(sidecar_path), summary=Summary(label=label, score=0.55, decision="review"))
    db.execute("INSERT INTO frames (frame_id, path, sidecar_path, state, label, decision, score, status, processed_at)"
               " VALUES (?, ?, ?, 'processed', ?, 'review', 0.55, 'ok', ?)",
               (frame_id, str(folder / name), str(sidecar_path), label, time.time() - 86400 + i))
    journal._insert_event(db, event)


def review_queue(work: Path, frames: int, loads: int) -> dict:
    from console.conftest import console_process

    state = work / "review-state"
    t0 = time.perf_counter()
    fill_journal(state, work / "review-frames", frames)
    built = time.perf_counter() - t0
    with console_process(state) as console:
        deadline = time.monotonic() + 600
        while json.loads(console.get("/health.json")[1])["console"]["subscriber_seq"] is None:
            if time.monotonic() > deadline:  # the search index catches up first: let it finish
                raise SystemExit("the console's search index did not catch up within 10 minutes")
            time.sleep(0.2)
        for _ in range(10):  # warm-up: first connections, template compilation, page cache
            console.get("/review")
        server, wall = [], []
        for _ in range(loads):
            start = time.perf_counter()
            with urllib.request.urlopen(console.url + "/review", timeout=30) as response:
                response.read()
                timing = response.headers["Server-Timing"]
            wall.append(1000 * (time.perf_counter() - start))
            server.append(float(timing.split("dur=")[1]))
        waiting = console.get("/health.json")[1]
    return {"frames": frames, "loads": loads, "journal_build_s": round(built, 1),
            "waiting": json.loads(waiting)["review_waiting"],
            "server_ms_p50": round(statistics.median(server), 2), "server_ms_p95": round(pct(server, 0.95), 2),
            "wall_ms_p50": round(statistics.median(wall), 2), "wall_ms_p95": round(pct(wall, 0.95), 2)}


def live_latency(work: Path, updates: int) -> dict:
    from console.conftest import CHROMIUM, CHROMIUM_ARGS, console_process
    from daemon.helpers import running_daemon, tiff_bytes, wait_for
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        return {"skipped": "no /usr/bin/chromium"}
    watch, state = work / "live-watch", work / "live-state"
    watch.mkdir()
    latencies = []
    with running_daemon(watch, state, bus=True) as daemon, console_process(state) as console, \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(console.url + "/")
        page.wait_for_selector("[data-conn].on")
        page.evaluate("""() => { window.__seen = {};
            new MutationObserver(() => document.querySelectorAll('.tile .name').forEach(n => {
                if (!(n.textContent in window.__seen)) window.__seen[n.textContent] = Date.now(); }))
            .observe(document.querySelector('[data-wall]'), {childList: true, subtree: true}); }""")
        for i in range(updates):
            name = f"live_{i:03d}.tif"
            (watch / name).write_bytes(tiff_bytes(10_000 + i))
            page.wait_for_function(f"() => '{name}' in window.__seen", timeout=60_000)
        seen = page.evaluate("window.__seen")
        browser.close()
        wait_for(lambda: len(daemon.journal.events(type="frame.processed")) >= updates, 60)
        for event in daemon.journal.events(type="frame.processed"):
            name = Path(event.frame_path or "").name
            if name in seen:
                latencies.append(seen[name] - 1000 * event.time.timestamp())
    return {"updates": len(latencies), "ms_p50": round(statistics.median(latencies), 1),
            "ms_p95": round(pct(latencies, 0.95), 1), "ms_max": round(max(latencies), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=200)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="1,000 frames, 30 loads, 5 updates")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.loads, args.updates = 1000, 30, 5
    with tempfile.TemporaryDirectory(prefix="nanoaid-bench-console-") as tmp:
        review = review_queue(Path(tmp), args.frames, args.loads)
        live = live_latency(Path(tmp), args.updates)
    print(f"review queue, {review['frames']:,} frames waiting ({review['loads']} loads of /review):")
    print(f"  server time  p50 {review['server_ms_p50']:7.2f} ms   p95 {review['server_ms_p95']:7.2f} ms")
    print(f"  client wall  p50 {review['wall_ms_p50']:7.2f} ms   p95 {review['wall_ms_p95']:7.2f} ms")
    if "skipped" in live:
        print(f"live latency: skipped ({live['skipped']})")
    else:
        print(f"live page, event time → tile in the DOM ({live['updates']} frames):")
        print(f"  p50 {live['ms_p50']:7.1f} ms   p95 {live['ms_p95']:7.1f} ms   max {live['ms_max']:7.1f} ms")
    result = {"review_queue": review, "live_update": live}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
