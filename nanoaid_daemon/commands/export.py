"""``nanoaid export nexus FRAME… --out DIR`` and ``nanoaid export rocrate DIR --out CRATE``."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .. import __version__
from ..cli import EXIT_FAIL, EXIT_OK, add_config_option, settings_from_args
from ..errors import ReaderError


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="repository records: NeXus NXem files, RO-Crates")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    nx = kinds.add_parser("nexus", help="one NXem .nxs per frame (pynxtools em reader), validated")
    nx.add_argument("frames", nargs="+", type=Path, metavar="FRAME")
    nx.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the .nxs files")
    nx.add_argument("--sidecars", type=Path, metavar="DIR", help="folder of the sidecars (default: beside each frame)")
    nx.add_argument("--eln", type=Path, metavar="FILE",
                    help="ELN YAML (NOMAD eln_data layout): sample atom_types and preparation_date, users")
    nx.add_argument("--json", action="store_true", help="one JSON line per frame: file, validity, value comparison")
    nx.set_defaults(func=run_nexus)
    rc = kinds.add_parser("rocrate", help="an RO-Crate of a session folder with Workflow Run Crate provenance")
    rc.add_argument("session", type=Path, metavar="DIR")
    rc.add_argument("--out", type=Path, required=True, metavar="CRATE", help="new folder for the crate")
    add_config_option(rc)
    rc.set_defaults(func=run_rocrate)


def _report(result: Any, as_json: bool) -> None:
    if as_json:
        doc = {"frame": str(result.frame), "nexus": str(result.path), "valid": result.valid,
               "problems": result.problems, "comparison": [asdict(c) for c in result.comparison]}
        print(json.dumps(doc, default=str))
        return
    verdict = "valid NXem" if result.valid else f"NOT valid NXem ({len(result.problems)} problems)"
    print(f"{result.frame} -> {result.path}: {verdict}")
    for problem in result.problems:
        print(f"  problem: {problem}")
    for row in result.comparison:
        mark = {True: "agree", False: "DIFFER", None: "one side"}[row.agree]
        values = f"nanoaid={row.nanoaid!r} pynxtools-em={row.pynxtools_em!r} {row.unit or ''}"
        print(f"  {row.quantity:17} {mark:8} {values}")


def run_nexus(args: Any) -> int:
    from ..config import Settings
    from ..exports import load_sidecar
    from ..exports.nexus import export_nexus, load_eln
    from ..host import PluginHost

    eln = load_eln(args.eln)
    readers = PluginHost.load(Settings(), kinds=("reader",))
    status = EXIT_OK
    for frame in args.frames:
        try:
            sidecar_path, sidecar = load_sidecar(frame, args.sidecars)
            pixels = readers.read(frame).primary.pixels
            result = export_nexus(frame, sidecar, sidecar_path, args.out, eln, pixels)
        except ReaderError as exc:
            print(f"nanoaid: {exc}", file=sys.stderr)
            status = EXIT_FAIL
            continue
        _report(result, args.json)
        if not result.valid:
            status = EXIT_FAIL
    return status


def run_rocrate(args: Any) -> int:
    from ..exports.rocrate import export_rocrate

    settings = settings_from_args(args)
    result = export_rocrate(args.session, args.out, settings.models.resolved_dir(), __version__)
    print(f"{result.path}: {result.frames} frames, {result.files} files, models {', '.join(result.models) or 'none'}")
    return EXIT_OK
