"""``nanoaid search --state DIR QUERY [--json]``: find frames in the uploader's catalogue."""
from __future__ import annotations

import json
from pathlib import Path

from ..cli import EXIT_OK, EXIT_USAGE
from ..errors import ConfigError

QUERY_HELP = ("terms, all of which must match: label:Nanowires coherency>0.8 mag>10k after:2026-01-01 "
              "before:7d operator:alice score.Tips>0.3 corrected:yes -decision:accepted, or free text "
              "(names, sample, notes; a trailing * matches a prefix). See docs/uploader.md.")


def register(sub) -> None:
    p = sub.add_parser("search", help="find frames in the catalogue", description=QUERY_HELP)
    p.add_argument("--state", type=Path, default=Path("nanoaid-upload-state"),
                   help="the uploader's state folder (default: ./nanoaid-upload-state)")
    p.add_argument("--json", action="store_true", help="one JSON document per hit, one per line")
    p.add_argument("--limit", type=int, metavar="N", help="at most N hits (newest acquisition first)")
    p.add_argument("query", nargs="*", metavar="QUERY", help="the query (empty: every frame)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..uploader.catalogue import Catalogue
    from ..uploader.query import QueryError
    from ..uploader.service import CATALOGUE_FILE

    path = args.state / CATALOGUE_FILE
    if not path.is_file():
        raise ConfigError(f"no catalogue at {path}: run `nanoaid upload --state {args.state} ...` or "
                          f"`nanoaid catalogue rebuild --state {args.state}` first")
    with Catalogue(path) as catalogue:
        try:
            hits = catalogue.search(" ".join(args.query), limit=args.limit)
        except QueryError as exc:
            print(f"nanoaid search: {exc}")
            return EXIT_USAGE
    for hit in hits:
        print(json.dumps(hit) if args.json else _line(hit))
    return EXIT_OK


def _fmt(value, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def _line(hit: dict) -> str:
    return "  ".join([
        hit["frame_id"][:12], f"{_fmt(hit['label']):<27}", _fmt(hit["score"], ".2f"), _fmt(hit["coherency"], ".2f"),
        f"{_fmt(hit['magnification'], '.0f'):>7}x", _fmt(hit["acquired_at"]), hit["frame_path"] or hit["name"],
        hit["location"] or "(not stored yet)",
    ] + ([f"crate {hit['crate']} v{hit['crate_version']}"] if hit.get("crate") else []))
