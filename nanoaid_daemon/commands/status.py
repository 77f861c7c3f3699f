"""``nanoaid status --state DIR [--json]``: counts by state, the last sequence number, thread health."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..cli import EXIT_OK
from ..daemon import JOURNAL_NAME
from ..errors import ConfigError
from ..journal import Journal
from ..supervise import DaemonHealth, read_health

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
    except sqlite3.DatabaseError as exc:
        raise journal.damaged(exc) from exc
    finally:
        journal.close()


def _health_lines(health: DaemonHealth) -> list[str]:
    lines = [f"daemon:    {health.state} (pid {health.pid}, as of {health.updated})"
             + (f", waiting for: {health.waiting_for}" if health.waiting_for else "")]
    for t in health.threads:
        extra = f", last error {t.last_error_at}: {t.last_error}" if t.last_error else ""
        lines.append(f"  {t.name:<12} {t.state:<10} restarts {t.restarts}, failures {t.failures}{extra}")
    return lines


def run(args) -> int:
    info = read_journal(args.state, Journal.dump_status)
    endpoints = Path(args.state) / "endpoints.json"
    if endpoints.is_file():
        info["endpoints"] = json.loads(endpoints.read_text())
    health = read_health(args.state)
    info["health"] = json.loads(health.to_json()) if health else None
    if args.json:
        print(json.dumps(info))
    else:
        print(f"journal:   {info['journal']}")
        print(f"processed: {info['frames_processed']} frames, last event seq {info['last_seq']}")
        print("files:     " + ", ".join(f"{k} {v}" for k, v in info["files"].items()))
        for line in _health_lines(health) if health else ["daemon:    no health record (never run here)"]:
            print(line)
    return EXIT_OK
