"""``nanoaid corrections list|export``: operator labels, and a labelled folder for retraining."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..cli import EXIT_FAIL, add_config_option, settings_from_args
from ..corrections import JOURNAL_NAME, export_corrections, latest_labels
from ..errors import ConfigError
from ..journal import Journal


def register(sub) -> None:
    p = sub.add_parser("corrections", help="list operator corrections or export them for retraining")
    csub = p.add_subparsers(dest="corrections_command", metavar="ACTION", required=True)
    ls = csub.add_parser("list", help="every correction, oldest first, one JSON line each")
    ls.add_argument("--state", type=Path, help="the daemon's state folder")
    add_config_option(ls)
    ls.set_defaults(func=run_list)
    ex = csub.add_parser("export", help="write DIR/<Class>/<frame> (NFFA layout) and DIR/labels.csv")
    ex.add_argument("dest", type=Path, metavar="DIR", help="a new or empty folder")
    ex.add_argument("--state", type=Path, help="the daemon's state folder")
    ex.add_argument("--link", action="store_true",
                    help="hard-link frames instead of copying (saves space; editing an exported file then edits "
                         "the original, so only for read-only use)")
    ex.add_argument("--json", action="store_true", help="print a JSON summary")
    add_config_option(ex)
    ex.set_defaults(func=run_export)


def _journal(args) -> Journal:
    state = Path(args.state or settings_from_args(args).state_dir)
    path = state / JOURNAL_NAME
    if not path.is_file():
        raise ConfigError(f"no journal at {path}; check --state")
    return Journal(path)


def run_list(args) -> int:
    journal = _journal(args)
    try:
        for row in journal.corrections():
            print(json.dumps(row))
    finally:
        journal.close()
    return 0


def run_export(args) -> int:
    journal = _journal(args)
    try:
        report = export_corrections(journal, args.dest, link=args.link)
        frames = len(latest_labels(journal))
    finally:
        journal.close()
    for frame_id, reason in report.skipped:
        print(f"nanoaid: skipped {frame_id[:12]}…: {reason}", file=sys.stderr)
    if args.json:
        print(json.dumps({"dest": str(args.dest), "frames": frames, "exported": len(report.exported),
                          "skipped": [{"frame_id": f, "reason": r} for f, r in report.skipped]}))
    else:
        print(f"exported {len(report.exported)} of {frames} corrected frames to {args.dest} (labels.csv inside)")
    return EXIT_FAIL if report.skipped else 0
