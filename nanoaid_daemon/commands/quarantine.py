"""``nanoaid quarantine list --state DIR [--json]``: files that were rejected, with the reason."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from ..cli import EXIT_OK, EXIT_USAGE
from .status import open_journal


def register(sub) -> None:
    p = sub.add_parser("quarantine", help="rejected files and why")
    qsub = p.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)
    ls = qsub.add_parser("list", help="list rejected files")
    ls.add_argument("--state", type=Path, required=True, help="the daemon's state folder")
    ls.add_argument("--json", action="store_true", help="one JSON document per file, one per line")
    ls.set_defaults(func=run_list)


def run_list(args) -> int:
    journal = open_journal(args.state)
    if journal is None:
        return EXIT_USAGE
    try:
        records = journal.quarantine()
    finally:
        journal.close()
    for rec in records:
        when = datetime.fromtimestamp(rec.updated, timezone.utc).isoformat(timespec="seconds")
        if args.json:
            print(json.dumps({"path": rec.path, "code": rec.code, "reason": rec.reason, "time": when}))
        else:
            print(f"{when}  {rec.code:<14} {rec.path}\n    {rec.reason}")
    if not records and not args.json:
        print("quarantine is empty")
    return EXIT_OK
