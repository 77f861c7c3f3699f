#!/usr/bin/env python3
"""Reliability run: many kill -9 trials during frame bursts; prints losses, duplicates and timing.

    .venv/bin/python benchmarks/reliability_kill9.py --rounds 5 --trials 20 --frames 300 [--json out.json]

Each round is a fresh watch folder; the test suite runs one round of 10 trials.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from nanoaid_daemon.testing import kill9_trials


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=20, help="kill -9 per round")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="nanoaid-kill9-") as tmp:
            started = time.monotonic()
            report = kill9_trials(Path(tmp), frames=args.frames, trials=args.trials, seed=r)
            row = report.as_dict() | {"round": r, "wall_s": round(time.monotonic() - started, 1)}
            rows.append(row)
            print(f"round {r}: {args.trials} kills, {report.processed_events}/{args.frames} frames, "
                  f"lost {len(report.lost)}, duplicate events {len(report.duplicate_events)}, "
                  f"invalid sidecars {len(report.invalid_sidecars)}, temp files {len(report.temp_files)}, "
                  f"seq gaps {report.seq_gaps}  ({row['wall_s']} s)", flush=True)
    total_kills = args.rounds * args.trials
    bad = sum(not r["ok"] for r in rows)
    print(
        f"\n{total_kills} kills over {args.rounds} rounds: {'all promises held' if not bad else f'{bad} rounds FAILED'}"
    )
    if args.json:
        args.json.write_text(json.dumps({"rounds": rows, "kills": total_kills, "failed_rounds": bad}, indent=2))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
