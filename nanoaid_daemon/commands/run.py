"""``nanoaid run --watch DIR --state DIR``: the daemon in the foreground (systemd runs exactly this)."""
from __future__ import annotations

import logging
import signal
from pathlib import Path

from ..cli import EXIT_FAIL, add_config_option, settings_from_args
from ..daemon import Daemon

log = logging.getLogger("nanoaid")


def register(sub) -> None:
    p = sub.add_parser("run", help="run the daemon in the foreground until SIGTERM/Ctrl-C")
    p.add_argument("--watch", type=Path, help="folder the instrument saves frames into")
    p.add_argument("--state", type=Path, help="folder for the journal and endpoints.json (local disk)")
    p.add_argument("--output", type=Path, help="write sidecars/previews under this folder instead of beside frames")
    p.add_argument("--bind", help="interface for the event endpoints (default 127.0.0.1)")
    p.add_argument("--observer", choices=["auto", "native", "polling", "none"], help="file-system event source")
    p.add_argument("--workers", type=int, help="worker threads (default: all cores but one)")
    add_config_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    overrides = {"watch.root": args.watch, "state_dir": args.state, "output.root": args.output,
                 "bus.bind": args.bind, "watch.observer": args.observer, "pipeline.cpu_budget": args.workers}
    settings = settings_from_args(args, **overrides)
    if not logging.getLogger().handlers or logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(settings.log_level)
    daemon = Daemon(settings, reload_settings=lambda: settings_from_args(args, **overrides))
    # Handlers first: a SIGTERM while models load still ends in a clean stop.
    signal.signal(signal.SIGTERM, lambda *_: daemon.request_stop())
    signal.signal(signal.SIGINT, lambda *_: daemon.request_stop())
    signal.signal(signal.SIGHUP, lambda *_: daemon.request_reload())
    daemon.start()
    try:
        daemon.serve_forever()
    finally:
        daemon.stop()
    if daemon.fatal:
        log.critical("daemon stopped: %s", daemon.fatal)
        return EXIT_FAIL
    return 0
