"""Choosing a sink plugin for an archive path or a repository URL, and its secrets.

Sinks are plugins like readers: an entry point declares each, its manifest lists the URL schemes
it ``handles``, and its options come from ``[plugins.options.<name>]`` in the config file. Secrets
may be given as ``<key>_file`` naming a file (systemd ``LoadCredential=`` puts them in
``$CREDENTIALS_DIRECTORY``), so they never sit in the config file or the process environment.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..config import Settings
from ..errors import ConfigError, PluginError
from ..plugins import DiscoveredPlugin, PluginContext, PluginManifest, Sink, discover, load_factory, missing_methods
from .bundle import Bundle, Receipt

__all__ = ["pop_secret", "sink_for", "build_sink", "redact", "Unconfigured"]

DEFAULT_SINK = "ocfl"


def pop_secret(opts: dict[str, Any], key: str, plugin: str) -> str | None:
    """``opts[key]``, or the stripped content of the file named by ``opts[key + '_file']``."""
    value, file_name = opts.pop(key, None), opts.pop(key + "_file", None)
    if value is not None or file_name is None:
        return value
    path = Path(os.path.expandvars(str(file_name)))
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"sink {plugin!r}: cannot read {key}_file {path}: {exc.strerror or exc}") from exc


class Unconfigured:
    """A sink plugin loaded without a target (e.g. by ``nanoaid plugins validate``): loads, stores nothing."""

    def __init__(self, name: str, hint: str):
        self.name, self.hint = name, hint

    def describe(self) -> str:
        return f"{self.name} (not configured)"

    def check(self) -> None:
        raise ConfigError(f"sink {self.name!r} has no target: {self.hint}")

    def put(self, bundle: Bundle) -> Receipt:
        self.check()
        raise AssertionError("unreachable: check() raised")

    def close(self) -> None:
        """Nothing to release."""


def redact(url: str) -> str:
    """A URL fit for logs: any password in it replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def sink_for(scheme: str, discovered: list[DiscoveredPlugin]) -> PluginManifest:
    """The sink plugin that handles a URL scheme, or ConfigError listing what is installed."""
    sinks = [(d, d.manifest) for d in discovered if d.manifest is not None and d.manifest.kind == "sink"]
    for found, manifest in sinks:
        if scheme in manifest.handles:
            if not found.ok:
                raise ConfigError(f"sink plugin {manifest.name!r} for {scheme}:// is broken: {found.error}")
            return manifest
    known = ", ".join(f"{m.name} ({'/'.join(m.handles)})" for _, m in sinks) or "none"
    raise ConfigError(f"no sink plugin handles {scheme}:// URLs; installed sinks: {known}")


def build_sink(target: str, settings: Settings, *, archive: bool = False, create: bool = True,
               discovered: list[DiscoveredPlugin] | None = None) -> tuple[PluginManifest, Sink]:
    """Instantiate the sink for ``--archive ROOT`` (``archive=True``) or ``--sink URL``."""
    discovered = discover() if discovered is None else discovered
    scheme = "file" if archive or "://" not in target else urlsplit(target).scheme.lower()
    manifest = sink_for(scheme, discovered)
    if manifest.name in settings.plugins.disabled:
        raise ConfigError(f"sink plugin {manifest.name!r} is disabled in plugins.disabled")
    options = dict(settings.plugins.options.get(manifest.name, {}))
    if manifest.name == DEFAULT_SINK:
        options.update(root=target, create=create)
    else:
        options["url"] = target
    try:
        sink = load_factory(manifest)(PluginContext(manifest, options))
    except (ConfigError, PluginError):
        raise
    except Exception as exc:
        raise PluginError(f"sink plugin {manifest.name!r} failed to start: {type(exc).__name__}: {exc}") from exc
    missing = missing_methods("sink", sink)
    if missing:
        raise PluginError(f"sink plugin {manifest.name!r} lacks {', '.join(m + '()' for m in missing)} that the "
                          f"uploader calls (plugin API {manifest.api_version}; see docs/daemon.md, 'Plugins')")
    return manifest, sink
