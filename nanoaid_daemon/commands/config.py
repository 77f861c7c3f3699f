"""``nanoaid config show``: the effective configuration as TOML-like JSON."""
from __future__ import annotations

import json

from ..cli import add_config_option, settings_from_args


def register(sub) -> None:
    p = sub.add_parser("config", help="show the effective configuration")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = csub.add_parser("show", help="print the effective settings (file < env < command line) as JSON")
    add_config_option(show)
    show.set_defaults(func=run_show)


def run_show(args) -> int:
    settings = settings_from_args(args)
    print(json.dumps(settings.model_dump(mode="json"), indent=2))
    return 0
