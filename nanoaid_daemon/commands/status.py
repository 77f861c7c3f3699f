"""``nanoaid status --state DIR [--json]``: counts by state and the last sequence number."""
from __future__ import annotations

import json
from pathlib import Path

from ..cli import EXIT_OK, EXIT_USAGE
from ..daemon import JOURNAL_NAME
from ..journal import Journal


def register(sub) -> None:
    p = sub.add_parser("status", help="journal counts by state and the last event sequence number")
    p.add_argument("--state", type=Path, required=True, help="the daemon's state folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def open_journal(state: Path) -> Journal | None:
    path = Path(state) / JOURNAL_NAME
    if not path.is_file():
        print(f"nanoaid: no journal at {path} (has the daemon run with --state {state}?)")
        return None
    return Journal(path)


def run(args) -> int:
    journal = open_journal(args.state)
    if journal is None:
        return EXIT_USAGE
    try:
        info = journal.dump_status()
    finally:
        journal.close()
    endpoints = Path(args.state) / "endpoints.json"
    if endpoints.is_file():
        info["endpoints"] = json.loads(endpoints.read_text())
    if args.json:
        print(json.dumps(info))
    else:
        print(f"journal:   {info['journal']}")
        print(f"processed: {info['frames_processed']} frames, last event seq {info['last_seq']}")
        print("files:     " + ", ".join(f"{k} {v}" for k, v in info["files"].items()))
    return EXIT_OK
