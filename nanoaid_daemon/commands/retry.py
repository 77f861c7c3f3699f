"""``nanoaid retry --state DIR [--all | PATH…]``: quarantined or failed files back into the queue.

The journal rows go back to ``discovered`` with a clean failure count. A running daemon takes them
at its next reconcile scan (``watch.reconcile_interval_s``), a stopped one at its next start.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..cli import EXIT_FAIL, EXIT_OK
from ..errors import ConfigError
from ..journal import Journal
from ..paths import shown
from .status import read_journal


def register(sub) -> None:
    p = sub.add_parser("retry", help="re-queue quarantined or failed files")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files to re-queue (as listed by quarantine)")
    p.add_argument("--all", action="store_true", help="re-queue every quarantined and failed file")
    p.add_argument("--state", type=Path, required=True, help="the daemon's state folder")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.all == bool(args.paths):
        raise ConfigError("name the files to retry, or pass --all (not both)")
    wanted = None if args.all else [os.path.abspath(p) for p in args.paths]
    done = read_journal(args.state, lambda j: Journal.requeue(j, wanted))
    for path in done:
        print(f"re-queued {shown(path)}")
    missing = sorted(set(wanted or ()) - set(done))
    for path in missing:
        print(f"not quarantined or failed: {shown(path)}")
    if not done and args.all:
        print("nothing to retry")
    return EXIT_FAIL if missing else EXIT_OK
