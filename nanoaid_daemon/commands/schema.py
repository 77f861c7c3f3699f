"""``nanoaid schema sidecar|event|context``: print a JSON Schema, or the sidecar's JSON-LD context."""
from __future__ import annotations

import sys

from ..jsonld import context_document
from ..schema import SCHEMAS, schema_json


def register(sub) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of the sidecar or event, or the sidecar's JSON-LD context")
    p.add_argument("name", choices=[*sorted(SCHEMAS), "context"])
    p.set_defaults(func=run)


def run(args) -> int:
    sys.stdout.write(context_document() if args.name == "context" else schema_json(args.name))
    return 0
