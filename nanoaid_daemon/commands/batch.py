"""``nanoaid batch ROOT [--state DIR] [--workers N | --scheduler ADDRESS] [--resume] [--output DIR] [--json]``.

Reprocesses an archive with the daemon's pipeline: same sidecars, same journal, same events.
Progress goes to stderr; the final summary to stdout (one JSON document with ``--json``).
Exit codes: 0 all done, 1 a frame was rejected or failed (or the batch stopped), 2 usage error,
130 interrupted (run again with ``--resume``).
"""
from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from ..cli import add_config_option, settings_from_args
from ..errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser("batch", help="reprocess an archive of frames (local pool or Dask cluster)",
                       description="Run the daemon's pipeline over every frame under ROOT that the journal "
                                   "has not finished yet. Interrupt any time; --resume continues.")
    p.add_argument("root", nargs="?", type=Path, metavar="ROOT",
                   help="archive folder (with --resume: default is the interrupted run's)")
    p.add_argument("--state", type=Path, metavar="DIR",
                   help="folder of the journal (local disk); default: state_dir setting")
    p.add_argument("--output", type=Path, metavar="DIR",
                   help="write sidecars/previews under DIR instead of beside each frame")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="start a local Dask cluster of N worker processes")
    where.add_argument("--scheduler", metavar="ADDRESS", help="use a running Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--resume", action="store_true", help="continue the run recorded in the state folder")
    p.add_argument("--chunk-size", type=int, metavar="N", help="frames per task (default: up to 32)")
    p.add_argument("--progress-interval", type=float, default=30.0, metavar="S",
                   help="seconds between progress lines when stderr is not a terminal (default 30)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON document")
    add_config_option(p)
    p.set_defaults(func=run)


def _where(args, state_hint: Path | None) -> tuple[Path, Path | None]:
    """ROOT and --output, taken from the recorded run when resuming."""
    from ..batch import read_run

    if not args.resume:
        if args.root is None:
            raise ConfigError("ROOT is required (or --resume to continue the run recorded in --state)")
        return args.root, args.output
    record = read_run(state_hint) if state_hint else None
    if record is None:
        if args.root is None:
            raise ConfigError(f"nothing to resume: no batch run is recorded in {state_hint}; pass ROOT")
        return args.root, args.output  # stopped before it recorded anything: start it afresh
    root = args.root or Path(record["root"])
    if Path(root).absolute() != Path(record["root"]):
        raise ConfigError(f"--resume continues the run over {record['root']}, not {Path(root).absolute()}; "
                          "drop --resume to start a run over another folder")
    output = args.output or (Path(record["output"]) if record.get("output") else None)
    return root, output


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run(args) -> int:
    from ..batch import BatchOptions, render_text, run_batch

    options = BatchOptions(workers=args.workers, scheduler=args.scheduler, chunk_size=args.chunk_size,
                           progress_interval_s=args.progress_interval)
    options.check()
    state = settings_from_args(args, state_dir=args.state).state_dir
    root, output = _where(args, Path(state).absolute())
    settings = settings_from_args(args, **{"watch.root": Path(root).absolute(), "state_dir": args.state,
                                           "output.root": Path(output).absolute() if output else None})
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        report = run_batch(settings, options, stream=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print(render_text(report))
    return report.exit_code
