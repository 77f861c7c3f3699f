"""``nanoaid quarantine list --state DIR [--json]``: files that were rejected, with the reason."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from ..cli import EXIT_OK
from ..journal import Journal
from ..paths import shown
from .status import read_journal


def register(sub) -> None:
    p = sub.add_parser("quarantine", help="rejected files and why")
    qsub = p.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)
    ls = qsub.add_parser("list", help="list rejected files")
    ls.add_argument("--state", type=Path, required=True, help="the daemon's state folder")
    ls.add_argument("--json", action="store_true", help="one JSON document per file, one per line")
    ls.set_defaults(func=run_list)


def run_list(args) -> int:
    records = read_journal(args.state, Journal.quarantine)
    for rec in records:
        when = datetime.fromtimestamp(rec.updated, timezone.utc).isoformat(timespec="seconds")
        if args.json:
            print(json.dumps({"path": shown(rec.path), "code": rec.code, "reason": rec.reason, "time": when}))
        else:
            print(f"{when}  {rec.code:<14} {shown(rec.path)}\n    {rec.reason}")
    if not records and not args.json:
        print("quarantine is empty")
    return EXIT_OK
