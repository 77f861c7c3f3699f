"""Print each frame's label, decision and coherency as the daemon publishes it.

    python examples/print_labels.py --state /var/lib/nanoaid [--since 0] [--idle-exit 10]

The smallest useful subscriber: a dashboard or an acquisition script would do the same and, for
``decision == "review"``, ask the operator to confirm (``nanoaid label FRAME_ID CLASS``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nanoaid_daemon.bus.client import Subscriber
from nanoaid_daemon.events import Event


def describe(event: Event) -> str:
    s = event.summary
    name = Path(event.frame_path).name if event.frame_path else (event.frame_id or "")[:12]
    if event.type == "frame.processed" and s is not None:
        coherency = "-" if s.coherency is None else f"{s.coherency:.2f}"
        score = "-" if s.score is None else f"{s.score:.2f}"
        return f"#{event.seq} {name}: {s.label or '?'} ({score}, {s.decision or '-'}), coherency {coherency}"
    if event.type == "label.corrected" and s is not None:
        return f"#{event.seq} {name}: corrected {s.previous_label} -> {s.label} by {s.operator}"
    reason = f": {s.reason}" if s is not None and s.reason else ""
    return f"#{event.seq} {name}: {event.type}{reason}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True, help="the daemon's state folder")
    parser.add_argument("--since", type=int, help="also show events after this sequence number")
    parser.add_argument("--idle-exit", type=float, help="stop after this many seconds without an event")
    parser.add_argument("--client-key", type=Path, help="CURVE client secret key, if the daemon uses CURVE")
    args = parser.parse_args(argv)
    with Subscriber(state_dir=args.state, since=args.since, types=("frame.", "label."),
                    idle_timeout=args.idle_exit, client_key=args.client_key) as sub:
        for event in sub:
            print(describe(event), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
