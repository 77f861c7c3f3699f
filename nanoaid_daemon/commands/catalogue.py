"""``nanoaid catalogue rebuild``: re-derive the catalogue from sidecars (it is never the only copy)."""
from __future__ import annotations

from pathlib import Path

from ..cli import EXIT_FAIL, EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("catalogue", help="maintain the uploader's searchable catalogue")
    actions = p.add_subparsers(dest="catalogue_command", metavar="ACTION", required=True)
    rb = actions.add_parser("rebuild", help="recreate the catalogue from sidecars",
                            description="Without options: from the sidecars the uploader stored (at their recorded "
                                        "paths). --sidecars and --archive add or replace sources.")
    rb.add_argument("--state", type=Path, default=Path("nanoaid-upload-state"),
                    help="the uploader's state folder (default: ./nanoaid-upload-state)")
    rb.add_argument("--sidecars", type=Path, action="append", default=[], metavar="DIR",
                    help="also read every *.nanoaid.json below DIR (repeatable)")
    rb.add_argument("--archive", type=Path, metavar="ROOT", help="also read the newest sidecar of every object "
                                                               "in this OCFL storage root")
    rb.set_defaults(func=run_rebuild)


def run_rebuild(args) -> int:
    from itertools import chain

    from ..uploader.catalogue import Catalogue
    from ..uploader.progress import Progress
    from ..uploader.rebuild import RebuildReport, from_archive, from_folders, from_progress, rebuild
    from ..uploader.service import CATALOGUE_FILE, PROGRESS_FILE

    report = RebuildReport()
    with Progress(args.state / PROGRESS_FILE) as progress, Catalogue(args.state / CATALOGUE_FILE) as catalogue:
        stored = {row["frame_id"]: row for row in progress.stored()}
        sources = [from_progress(progress, report), from_folders(args.sidecars, stored, report)]
        if args.archive is not None:
            sources.append(from_archive(args.archive, report))
        report.catalogued = rebuild(catalogue, chain(*sources))
    print(f"catalogued {report.catalogued} frame(s) in {args.state / CATALOGUE_FILE}")
    for problem in report.problems:
        print(f"  unreadable: {problem}")
    return EXIT_FAIL if report.problems else EXIT_OK
