"""``nanoaid label FRAME_ID CLASS --state DIR``: an operator correction from the shell.

With a daemon running (``STATE/endpoints.json`` names a live process) the correction goes to its
command endpoint, exactly as instrument software sends it. With no daemon running it is applied
directly to the journal and the sidecar; subscribers receive ``label.corrected`` when they next
replay. Exit 0: recorded; 1: refused (unknown frame, unknown class …); 2: usage or config error.
"""
from __future__ import annotations

import getpass
import json
import re
import sys
from pathlib import Path

from ..bus import daemon_running
from ..bus.client import send_correction
from ..bus.protocol import RequestRejected
from ..cli import EXIT_FAIL, add_config_option, settings_from_args
from ..corrections import JOURNAL_NAME, CorrectionRejected, Corrections, check_text
from ..errors import ConfigError
from ..events import Summary
from ..hashing import sha256_file
from ..journal import Journal


def register(sub) -> None:
    p = sub.add_parser("label", help="correct a frame's class (recorded next to the model's prediction)")
    p.add_argument("frame", metavar="FRAME_ID", help="the frame id (sha256) or the frame file itself")
    p.add_argument("label", metavar="CLASS", help="one of the 10 classes, e.g. Nanowires")
    p.add_argument("--state", type=Path, help="the daemon's state folder")
    p.add_argument("--operator", help="who makes the call (default: the login name)")
    p.add_argument("--comment", help="free text kept with the correction")
    p.add_argument("--client-key", type=Path, metavar="FILE",
                   help="CURVE client secret key, when the daemon uses CURVE")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the daemon (default 10)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON line")
    add_config_option(p)
    p.set_defaults(func=run)


def frame_id_of(text: str) -> str:
    if re.fullmatch(r"[0-9a-f]{64}", text):
        return text
    path = Path(text)
    if path.is_file():
        return sha256_file(path)[0]
    raise ConfigError(f"{text!r} is neither a frame id (64 hex characters) nor an existing frame file")


def _direct(state: Path, frame_id: str, label: str, operator: str, comment: str | None) -> dict:
    journal_path = state / JOURNAL_NAME
    if not journal_path.is_file():
        raise ConfigError(f"no daemon is running and there is no journal at {journal_path}; check --state")
    journal = Journal(journal_path)
    try:
        applied = Corrections(journal).apply_full(frame_id, label, operator=operator, comment=comment)
    finally:
        journal.close()
    event = applied.event
    summary = event.summary or Summary()
    return {"ok": True, "op": "label", "seq": event.seq, "event_id": event.event_id, "frame_id": frame_id,
            "label": summary.label, "previous_label": summary.previous_label,
            "sidecar_version": applied.sidecar_version, "sidecar_path": str(applied.sidecar_path), "via": "journal"}


def submit(state: Path, frame_id: str, label: str, *, operator: str, comment: str | None = None,
           client_key=None, timeout: float = 10.0) -> dict:
    """Send a correction to the running daemon, or apply it directly when none runs (the console uses this too).

    Raises ``RequestRejected`` or ``CorrectionRejected`` (both with ``.code``) when refused.
    """
    check_text(operator, comment)  # here, before a message too big for the bus is sent
    if daemon_running(state) is not None:
        reply = send_correction(frame_id, label, operator=operator, comment=comment, state_dir=state,
                                client_key=client_key, timeout=timeout)
        reply = {**reply, "via": "daemon"}
        reply.pop("id", None)
        return reply
    return _direct(Path(state), frame_id, label, operator, comment)


def run(args) -> int:
    state = args.state or settings_from_args(args).state_dir
    frame_id = frame_id_of(args.frame)
    operator = args.operator or getpass.getuser()
    try:
        reply = submit(Path(state), frame_id, args.label, operator=operator, comment=args.comment,
                       client_key=args.client_key, timeout=args.timeout)
    except (RequestRejected, CorrectionRejected) as exc:
        print(f"nanoaid: correction refused ({exc.code}): {exc}", file=sys.stderr)
        return EXIT_FAIL
    if args.json:
        print(json.dumps(reply))
    else:
        print(f"{frame_id[:12]}… {reply.get('previous_label')} → {reply['label']} (seq {reply['seq']}, "
              f"sidecar version {reply.get('sidecar_version')}, via {reply['via']})")
    return 0
