"""``nanoaid process FILE… [--json] [--output DIR]``: the daemon's pipeline, once, on given files."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..cli import EXIT_FAIL, EXIT_OK, add_config_option, settings_from_args
from ..errors import ReaderError
from ..hashing import sha256_file
from ..host import PluginHost
from ..inference import load_runtime
from ..pipeline import Pipeline


def register(sub) -> None:
    p = sub.add_parser("process", help="process files now and print their sidecar JSON")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one compact JSON document per file, one per line")
    p.add_argument("--output", type=Path, help="write sidecars/previews under DIR instead of beside each file")
    p.add_argument("--root", type=Path, help="folder that frame paths are relative to (default: each file's folder)")
    add_config_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    settings = settings_from_args(args, **{"output.root": args.output})
    runtime = load_runtime(settings)  # a missing models folder: exit 2 here, not `partial` sidecars
    try:
        host = PluginHost.load(settings, runtime=runtime)
        status = EXIT_OK
        for path in args.files:
            pipeline = Pipeline(settings, host, root=args.root or Path(path).absolute().parent)
            try:
                read = pipeline.read(path)
                frame_id, size = sha256_file(path)
            except (ReaderError, OSError) as exc:
                status = EXIT_FAIL
                code = getattr(exc, "code", "unreadable")
                print(json.dumps({"path": str(path), "error": {"code": code, "message": str(exc)}}))
                print(f"nanoaid: rejected {exc}", file=sys.stderr)
                continue
            outcome = pipeline.analyze(read, frame_id=frame_id, size_bytes=size)
            pipeline.write(outcome)
            doc = json.loads(outcome.sidecar.to_json())
            print(json.dumps(doc) if args.json else json.dumps(doc, indent=2))
    finally:
        runtime.close()
    return status
