"""``nanoaid`` command line. Exit codes: 0 success, 1 a file was rejected or a check failed,
2 usage or configuration error.

Each subcommand lives in ``nanoaid_daemon/commands/<name>.py`` with a ``register(subparsers)``
function; adding a command is adding a module and its name below.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from . import __version__
from .config import Settings, load_settings
from .errors import ConfigError, NanoaidError

__all__ = ["main", "build_parser", "settings_from_args", "add_config_option", "EXIT_OK", "EXIT_FAIL", "EXIT_USAGE"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

COMMANDS = (
    "run",
    "process",
    "batch",
    "inspect",
    "status",
    "quarantine",
    "demo",
    "config",
    "plugins",
    "schema",
    "events",
    "label",
    "corrections",
    "keys",
    "synth",
    "train",
    "models",
    "upload",
    "search",
    "catalogue",
    "export",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own exit code 2 matches ours; keep the message short
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML config file (default: $NANOAID_CONFIG, else none)")


def settings_from_args(args: argparse.Namespace, **overrides) -> Settings:
    """Effective settings: command-line overrides (None values dropped) over env over file."""
    clean: dict = {}
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = clean
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return load_settings(getattr(args, "config", None), clean)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nanoaid", description="SEM frames → labelled, explained, findable data.")
    parser.add_argument("--version", action="version", version=f"nanoaid {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).register(sub)
    return parser


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2) if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    _setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"nanoaid: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except NanoaidError as exc:
        print(f"nanoaid: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
