"""``nanoaid status --state DIR [--json]``: counts by state and the last sequence number."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..cli import EXIT_OK
from ..daemon import JOURNAL_NAME
from ..errors import ConfigError
from ..journal import Journal

T = TypeVar("T")


def register(sub) -> None:
    p = sub.add_parser("status", help="journal counts by state and the last event sequence number")
    p.add_argument("--state", type=Path, required=True, help="the daemon's state folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def read_journal(state: Path, query: Callable[[Journal], T]) -> T:
    """Run one read-only query on the journal in ``state``; a missing journal is a usage error."""
    path = Path(state) / JOURNAL_NAME
    if not path.is_file():
        raise ConfigError(f"no journal at {path} (has the daemon run with --state {state}?)")
    journal = Journal(path)
    try:
        return query(journal)
    finally:
        journal.close()


def run(args) -> int:
    info = read_journal(args.state, Journal.dump_status)
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
