"""``nanoaid inspect FILE… [--json]``: normalised metadata without running any model."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..cli import EXIT_FAIL, EXIT_OK, add_config_option, settings_from_args
from ..errors import ReaderError
from ..hashing import sha256_file
from ..host import PluginHost
from ..records import frame_info, instrument_zone, localize, page_sections


def register(sub) -> None:
    p = sub.add_parser("inspect", help="print a file's normalised frame + instrument metadata (no models)")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON document per file, one per line")
    add_config_option(p)
    p.set_defaults(func=run)


def inspect_file(host: PluginHost, path: Path, zone) -> dict:
    read = host.read(path)
    digest, size = sha256_file(path)
    doc: dict[str, Any] = {
        "path": str(path),
        "reader": read.reader,
        "frame": frame_info(read, sha256=digest, size_bytes=size, root=path.parent).model_dump(mode="json"),
        "instrument": localize(read.primary.instrument, zone).model_dump(mode="json", exclude_none=True),
        "warnings": list(read.warnings),
    }
    pages = page_sections(read, zone)
    if pages:
        doc["pages"] = [p.model_dump(mode="json", exclude_none=True) for p in pages]
    return doc


def run(args) -> int:
    settings = settings_from_args(args)
    host = PluginHost.load(settings, kinds=("reader",))
    zone = instrument_zone(settings.timezone)
    status = EXIT_OK
    for path in args.files:
        try:
            doc = inspect_file(host, path, zone)
        except ReaderError as exc:
            status = EXIT_FAIL
            doc = {"path": str(path), "error": {"code": exc.code, "message": str(exc)}}
            print(f"nanoaid: rejected {exc}", file=sys.stderr)
        print(json.dumps(doc) if args.json else json.dumps(doc, indent=2))
    return status
