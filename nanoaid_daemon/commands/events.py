"""``nanoaid events --state DIR [--since N] [--type PREFIX] [--idle-exit S]``: tail the bus as JSON lines.

Replays from ``--since`` (default: only new events), then follows the live stream; with
``--idle-exit`` it exits 0 after that many seconds without a new event (for scripts).
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..bus.client import Subscriber
from ..cli import add_config_option, settings_from_args


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def register(sub) -> None:
    p = sub.add_parser("events", help="tail the event bus as JSON lines (replays from --since)")
    p.add_argument("--state", type=Path, help="the daemon's state folder (holds endpoints.json)")
    p.add_argument("--since", type=_non_negative, metavar="N",
                   help="first print every event after sequence number N (0: all); default: only new ones")
    p.add_argument("--type", action="append", default=[], metavar="PREFIX", dest="types",
                   help="only events whose type starts with PREFIX, e.g. frame. (repeatable)")
    p.add_argument("--idle-exit", type=_positive, metavar="SECONDS", help="exit 0 after this long without an event")
    p.add_argument("--json", action="store_true", help="one JSON document per line (the default)")
    p.add_argument("--text", action="store_true", help="a short human-readable line per event instead")
    p.add_argument(
        "--client-key", type=Path, metavar="FILE", help="CURVE client secret key, when the daemon uses CURVE"
    )
    add_config_option(p)
    p.set_defaults(func=run)


def _text(event) -> str:
    s = event.summary
    parts = [f"{event.seq:>7}", f"{event.type:<16}", (event.frame_id or "")[:12]]
    if s is not None:
        parts += [f"{k}={v}" for k, v in s.model_dump(exclude_none=True).items()]
    if event.frame_path:
        parts.append(event.frame_path)
    return "  ".join(p for p in parts if p)


def run(args) -> int:
    state = args.state or settings_from_args(args).state_dir
    sub = Subscriber(
        state_dir=state, since=args.since, types=args.types, idle_timeout=args.idle_exit, client_key=args.client_key
    )
    try:
        for event in sub:
            print(_text(event) if args.text else event.to_json(), flush=True)
    finally:
        sub.close()
    sys.stdout.flush()
    return 0
