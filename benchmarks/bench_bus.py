#!/usr/bin/env python3
"""Event bus figures: throughput with 10 subscribers, and commit → received latency; plain and CURVE.

    .venv/bin/python benchmarks/bench_bus.py [--events 20000] [--latency-events 500] [--subscribers 10]

Subscribers are separate processes using ``nanoaid_daemon.bus.client.Subscriber`` (typed events, gap
checks), as instrument software would. Throughput: events committed to the journal in batches
as fast as the journal takes them, timed from the first commit until the slowest subscriber has
the last one. Latency: one event per commit (synchronous=FULL, as the daemon commits), time from
"commit returned, bus notified" to "the subscriber's iterator yielded it". The file-settled →
event figure needs the whole daemon and is measured by the daemon benchmarks.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nanoaid_daemon.bus import Bus
from nanoaid_daemon.bus.keyfiles import generate_keypair
from nanoaid_daemon.config import Settings
from nanoaid_daemon.events import Event, Summary
from nanoaid_daemon.journal import Journal


def subscriber_main(args) -> int:
    """Child process: receive events after --since until --count have arrived; report receive times."""
    from nanoaid_daemon.bus.client import Subscriber

    times, seqs = [], []
    sub = Subscriber(state_dir=args.state, since=args.since, client_key=args.client_key, idle_timeout=60)
    print("ready", flush=True)
    for event in sub:
        times.append(time.time())
        seqs.append(event.seq)
        if len(seqs) == args.count:
            break
    sub.close()
    ok = seqs == list(range(args.since + 1, args.since + args.count + 1))
    print(json.dumps({"times": times, "seqs_ok": ok, "stats": sub.stats}), flush=True)
    return 0


def start_subscribers(state: Path, n: int, since: int, count: int, client_key: Path | None) -> list:
    cmd = [sys.executable, __file__, "--subscriber", "--state", str(state), "--since", str(since),
           "--count", str(count)]
    if client_key:
        cmd += ["--client-key", str(client_key)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(n)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)  # connected and caught up
    return procs


def results(procs) -> list[dict]:
    out = []
    for proc in procs:
        out.append(json.loads(proc.stdout.readline()))
        proc.wait(60)
    return out


def append_batch(journal: Journal, n: int) -> None:
    with journal._write() as db:  # one transaction per batch: measure the bus, not the disk
        for i in range(n):
            journal._insert_event(db, Event(type="frame.processed", frame_id=f"{i:064x}",
                                            summary=Summary(label="Nanowires", score=0.91, decision="accepted",
                                                            coherency=0.42)))


def throughput(journal, bus, state, n_subs, n_events, key) -> dict:
    since = journal.last_seq()
    procs = start_subscribers(state, n_subs, since, n_events, key)
    t0 = time.time()
    for _ in range(n_events // 500):
        append_batch(journal, 500)
        bus.notify()
    committed = time.time() - t0
    res = results(procs)
    last = max(r["times"][-1] for r in res)
    return {"events": n_events, "subscribers": n_subs, "all_in_order": all(r["seqs_ok"] for r in res),
            "commit_s": round(committed, 2), "events_per_s": round(n_events / (last - t0)),
            "deliveries_per_s": round(n_subs * n_events / (last - t0)),
            "replayed": sum(r["stats"]["replayed"] for r in res)}


def latency(journal, bus, state, n_events, key) -> dict:
    since = journal.last_seq()
    procs = start_subscribers(state, 1, since, n_events, key)
    sent = []
    for i in range(n_events):
        journal.append_event(Event(type="frame.processed", frame_id=f"{i:064x}", summary=Summary(label="Tips")))
        sent.append(time.time())
        bus.notify()
        time.sleep(0.005)
    res = results(procs)[0]
    ms = sorted((r - s) * 1000 for r, s in zip(res["times"], sent, strict=True))
    return {"events": n_events, "in_order": res["seqs_ok"], "median_ms": round(statistics.median(ms), 3),
            "p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 3), "max_ms": round(ms[-1], 3)}


def run_mode(curve: bool, args) -> dict:
    with tempfile.TemporaryDirectory(prefix="nanoaid-bench-bus-") as tmp:
        state = Path(tmp) / "state"
        settings = Settings(state_dir=state)
        key = None
        if curve:
            server = generate_keypair(Path(tmp) / "keys", "server")
            client = generate_keypair(Path(tmp) / "keys", "client")
            (Path(tmp) / "allowed").mkdir()
            (Path(tmp) / "allowed" / "client.key").write_bytes(client.public_path.read_bytes())
            settings.bus.server_secret_key, settings.bus.authorized_keys = server.secret_path, Path(tmp) / "allowed"
            key = client.secret_path
        journal = Journal(state / "journal.sqlite3")
        bus = Bus(settings, journal, state)
        bus.start()
        try:
            return {"throughput": throughput(journal, bus, state, args.subscribers, args.events, key),
                    "latency": latency(journal, bus, state, args.latency_events, key)}
        finally:
            bus.stop()
            journal.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--latency-events", type=int, default=500)
    parser.add_argument("--subscribers", type=int, default=10)
    parser.add_argument("--subscriber", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--state", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--since", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--client-key", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.subscriber:
        return subscriber_main(args)
    report = {mode: run_mode(mode == "curve", args) for mode in ("plain", "curve")}
    for mode, figures in report.items():
        t, lat = figures["throughput"], figures["latency"]
        print(f"bus [{mode:5}] throughput: {t['events_per_s']:>7} events/s to each of {t['subscribers']} subscribers "
              f"({t['deliveries_per_s']} deliveries/s, in order: {t['all_in_order']}, replayed {t['replayed']})")
        print(f"bus [{mode:5}] commit→received latency over {lat['events']} events: median {lat['median_ms']} ms, "
              f"p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms (in order: {lat['in_order']})")
    plain, curve = report["plain"], report["curve"]
    print(
        f"bus CURVE/plain: throughput ×{curve['throughput']['events_per_s'] / plain['throughput']['events_per_s']:.2f},"
        " "
        f"median latency ×{curve['latency']['median_ms'] / plain['latency']['median_ms']:.2f}"
    )
    print(json.dumps({"bench": "bus", **report}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
