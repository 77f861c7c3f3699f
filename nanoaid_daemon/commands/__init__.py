"""Subcommands of ``nanoaid``; each module has ``register(subparsers)``."""
