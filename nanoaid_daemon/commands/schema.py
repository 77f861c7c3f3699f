"""``nanoaid schema sidecar|event``: print a JSON Schema."""
from __future__ import annotations

import sys

from ..schema import SCHEMAS, schema_json


def register(sub) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of the sidecar or the event envelope")
    p.add_argument("name", choices=sorted(SCHEMAS))
    p.set_defaults(func=run)


def run(args) -> int:
    sys.stdout.write(schema_json(args.name))
    return 0
