"""Append every processed frame (and every correction) to a CSV log, resuming where it stopped.

    python examples/csv_log.py --state /var/lib/nanoaid frames.csv [--idle-exit 10]

The log is its own bookmark: at start the last row's ``seq`` says where to resume, so stopping
and restarting this script (or the daemon) never loses or duplicates a row.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from nanoaid_daemon.bus.client import Subscriber
from nanoaid_daemon.events import Event

COLUMNS = ["seq", "time", "type", "frame_id", "frame_path", "label", "score", "decision", "coherency",
           "previous_label", "operator"]


def last_seq(log: Path) -> int:
    """The ``seq`` of the log's last row, 0 for a new log."""
    if not log.exists():
        return 0
    with open(log, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return int(rows[-1]["seq"]) if rows else 0


def row(event: Event) -> list:
    s = event.summary.model_dump() if event.summary else {}
    return [event.seq, event.time.isoformat(), event.type, event.frame_id or "", event.frame_path or "",
            *(("" if s.get(k) is None else s[k]) for k in COLUMNS[5:])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True, help="the daemon's state folder")
    parser.add_argument("log", type=Path, help="CSV file to append to (created with a header)")
    parser.add_argument("--idle-exit", type=float, help="stop after this many seconds without an event")
    parser.add_argument("--client-key", type=Path, help="CURVE client secret key, if the daemon uses CURVE")
    args = parser.parse_args(argv)
    new = not args.log.exists()
    with open(args.log, "a", newline="", encoding="utf-8") as fh, \
            Subscriber(state_dir=args.state, since=last_seq(args.log), types=("frame.processed", "label."),
                       idle_timeout=args.idle_exit, client_key=args.client_key) as sub:
        writer = csv.writer(fh)
        if new:
            writer.writerow(COLUMNS)
        for event in sub:
            writer.writerow(row(event))
            fh.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
