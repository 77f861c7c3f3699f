"""``nanoaid upload`` (the uploader service), ``nanoaid upload status`` and ``nanoaid upload retry``."""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from ..cli import EXIT_FAIL, EXIT_OK, add_config_option, settings_from_args
from ..errors import ConfigError

DEFAULT_STATE = Path("nanoaid-upload-state")


def register(sub) -> None:
    p = sub.add_parser("upload", help="the uploader service: every frame into the repository, once",
                       description="Follows the daemon's events and stores every frame, its sidecar and previews in "
                                   "the repository (default: an OCFL archive folder), and keeps the catalogue.")
    _state_option(p)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--daemon-state", type=Path, help="the daemon's state folder (its endpoints.json)")
    src.add_argument("--events", metavar="FILE", help="read events as JSON lines from FILE (followed) or - (stdin)")
    dst = p.add_mutually_exclusive_group()
    dst.add_argument("--archive", type=Path, metavar="ROOT", help="OCFL storage root on a local disk or NAS mount")
    dst.add_argument("--sink", metavar="URL", help="repository URL, e.g. s3://bucket/prefix or webdavs://nas/share")
    p.add_argument("--no-follow", action="store_true", help="with --events FILE: stop at its end once all is stored")
    p.add_argument("--idle-exit", type=float, metavar="SECONDS",
                   help="exit once nothing is left to upload and no event came for this long")
    p.add_argument("--retry-initial", type=float, default=1.0, metavar="SECONDS", help="first retry delay (1)")
    p.add_argument("--retry-max", type=float, default=60.0, metavar="SECONDS", help="longest retry delay (60)")
    p.add_argument("--no-catalogue", action="store_true", help="do not keep the searchable catalogue")
    p.add_argument("--crates", choices=["session"],
                   help="also store one RO-Crate per session folder (relative to the watch root) as an OCFL "
                        "object, a new version as the session grows")
    add_config_option(p)
    p.set_defaults(func=run_service)
    actions = p.add_subparsers(dest="upload_command", metavar="ACTION")
    st = actions.add_parser("status", help="backlog, last error, frames set aside (exit 1 when unhealthy)")
    _state_option(st)
    st.add_argument("--json", action="store_true", help="one JSON document")
    st.set_defaults(func=run_status)
    rt = actions.add_parser("retry", help="queue the frames set aside as failed again")
    _state_option(rt)
    rt.set_defaults(func=run_retry)


def _state_option(p) -> None:
    p.add_argument("--state", type=Path, default=DEFAULT_STATE,
                   help=f"the uploader's own state folder (default: ./{DEFAULT_STATE})")


def _source(args):
    from ..uploader.source import jsonl_factory, subscriber_source

    if args.events:
        if args.events != "-" and not args.no_follow:
            return jsonl_factory(args.events, follow=True)
        return jsonl_factory(args.events, follow=False)
    if args.daemon_state is None:
        raise ConfigError("say where events come from: --daemon-state DIR (the daemon's state folder) or --events FILE")
    return lambda since: subscriber_source(args.daemon_state, since)


def _sink(args, settings, state: Path):
    from ..uploader.progress import Progress
    from ..uploader.service import PROGRESS_FILE
    from ..uploader.sinks import build_sink

    if args.archive is None and args.sink is None:
        raise ConfigError("say where frames go: --archive ROOT (an OCFL folder) or --sink URL")
    with Progress(state / PROGRESS_FILE) as progress:
        fresh = progress.status()["stored_frames"] == 0  # only a fresh uploader may create the archive root
    target = str(args.archive) if args.archive is not None else args.sink
    return build_sink(target, settings, archive=args.archive is not None, create=fresh)


def run_service(args) -> int:
    from ..sdnotify import Notifier
    from ..uploader.backoff import Backoff
    from ..uploader.service import Uploader

    settings = settings_from_args(args)
    factory = _source(args)
    try:
        backoff = Backoff(initial_s=args.retry_initial, max_s=args.retry_max)
    except ValueError as exc:
        raise ConfigError(f"--retry-initial/--retry-max: {exc}") from None
    crates = _crates(args, settings)
    manifest, sink = _sink(args, settings, args.state)
    uploader = Uploader(args.state, sink, sink_name=manifest.name, backoff=backoff,
                        catalogue=not args.no_catalogue, after_put=_crash_hook(), crates=crates)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    notifier = Notifier()
    try:
        uploader.run(factory, stop, idle_exit_s=args.idle_exit, on_ready=lambda: notifier.ready("uploading"),
                     tick=_watchdog(notifier, uploader))
    finally:
        notifier.stopping()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        uploader.close()
    return EXIT_OK


def _crates(args, settings):
    """Crate settings for ``--crates session``; checks the rocrate library before any event is taken."""
    if not args.crates:
        return None
    from ..exports.rocrate import _rocrate
    from ..uploader.crates import CrateSettings

    _rocrate()  # ConfigError naming the extra to install
    return CrateSettings(models_dir=settings.models.resolved_dir(), watch_root=settings.watch.root)


def _crash_hook():
    """The crash tests' fault hook, imported only when they ask for it through the environment."""
    if "NANOAID_UPLOAD_FAULT" not in os.environ:
        return None
    from ..testing import upload_fault

    try:
        return upload_fault()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _watchdog(notifier, uploader):
    interval = notifier.watchdog_interval_s
    last = [0.0]

    def tick() -> None:
        now = time.monotonic()
        if interval and now - last[0] >= interval:
            last[0] = now
            notifier.watchdog()
            counts = uploader.progress.counts()
            notifier.status(f"backlog {counts['pending']}, failed {counts['failed']}")
    return tick


def _open_progress(state: Path):
    from ..uploader.progress import Progress
    from ..uploader.service import PROGRESS_FILE

    if not (state / PROGRESS_FILE).is_file():
        raise ConfigError(f"no uploader state in {state} (start `nanoaid upload --state {state} ...` first)")
    return Progress(state / PROGRESS_FILE)


def run_status(args) -> int:
    with _open_progress(args.state) as progress:
        status = progress.status()
    healthy = not status["failing"] and not status["failed"]
    if args.json:
        print(json.dumps({**status, "healthy": healthy}))
    else:
        print(_status_text(status))
    return EXIT_OK if healthy else EXIT_FAIL


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds") if ts else "never"


def _status_text(s: dict) -> str:
    age = f" (oldest waiting {s['oldest_pending_age_s']} s)" if s["oldest_pending_age_s"] is not None else ""
    lines = [
        f"repository:   {s['sink'] or '?'}",
        f"last event:   seq {s['last_seq']}",
        f"backlog:      {s['backlog']} frame(s) waiting{age}",
        f"stored:       {s['stored_frames']} frame(s); last success {_when(s['last_ok_at'])}",
        f"state:        {'FAILING: the repository refuses or is unreachable' if s['failing'] else 'ok'}",
        f"last error:   {_when(s['last_error_at'])}: {s['last_error']}" if s["last_error"] else "last error:   none",
        f"set aside:    {len(s['failed'])} frame(s)" + (" (`nanoaid upload retry` queues them again)"
                                                        if s["failed"] else ""),
    ]
    lines += [f"  seq {f['seq']}: {f['error']}" for f in s["failed"]]
    return "\n".join(lines)


def run_retry(args) -> int:
    with _open_progress(args.state) as progress:
        count = progress.requeue_failed()
    print(f"{count} frame(s) queued again; a running uploader picks them up")
    return EXIT_OK
