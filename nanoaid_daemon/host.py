"""The plugin host: loads enabled plugins once and picks the reader for each file."""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Settings
from .errors import PluginError, ReaderError
from .frame import ReadResult
from .plugins import DiscoveredPlugin, PluginContext, PluginManifest, Probe, discover, load_factory, missing_methods
from .readkit.safety import guard

if TYPE_CHECKING:
    from .inference import Runtime

__all__ = ["LoadedPlugin", "PluginHost"]

log = logging.getLogger(__name__)


def _describe_content(head: bytes) -> str:
    """A few words on what a file that no reader accepts actually contains."""
    sample = head[:512]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        return f"the content is text ({text[:24].strip()!r}…)"
    return f"the content is unrecognised binary data (starts with {sample[:8].hex(' ')})"


@dataclass
class LoadedPlugin:
    manifest: PluginManifest
    obj: Any


@dataclass
class PluginHost:
    """Instantiated plugins by kind; broken ones are kept in ``disabled`` with the reason."""

    readers: list[LoadedPlugin] = field(default_factory=list)
    analyzers: list[LoadedPlugin] = field(default_factory=list)
    sinks: list[LoadedPlugin] = field(default_factory=list)
    disabled: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, settings: Settings, *, runtime: Runtime | None = None,
             kinds: tuple[str, ...] = ("reader", "analyzer"),
             discovered: list[DiscoveredPlugin] | None = None) -> PluginHost:
        host = cls()
        for found in discovered if discovered is not None else discover():
            manifest = found.manifest
            if manifest is None or not found.ok:
                host._disable(manifest.name if manifest else found.entry_point, found.error or "")
                continue
            if manifest.kind not in kinds or manifest.name in settings.plugins.disabled:
                continue
            ctx = PluginContext(manifest, settings.plugins.options.get(manifest.name, {}),
                                settings.models.resolved_dir(), runtime)
            try:
                obj = load_factory(manifest)(ctx)
            except Exception as exc:
                host._disable(manifest.name, f"{type(exc).__name__}: {exc}")
                continue
            missing = missing_methods(manifest.kind, obj)
            if missing:
                needs = ", ".join(m + "()" for m in missing)
                host._disable(manifest.name, f"a {manifest.kind} plugin needs {needs} (plugin API "
                                             f"{manifest.api_version}; see docs/daemon.md, 'Plugins')")
                continue
            getattr(host, manifest.kind + "s").append(LoadedPlugin(manifest, obj))
        host.analyzers.sort(key=lambda p: (p.manifest.order, p.manifest.name))
        return host

    def _disable(self, name: str, reason: str) -> None:
        log.warning("plugin %s disabled: %s", name, reason)
        self.disabled[name] = reason

    def pick_reader(self, path: Path) -> LoadedPlugin:
        probe = Probe(path)
        with guard(path):  # the first read of the file: a symlink loop or FIFO fails here, named
            head = probe.head
        if not head:
            raise ReaderError("file is empty (0 bytes)", path=path, code="empty")
        best, best_score = None, 0
        for plugin in sorted(self.readers, key=lambda p: p.manifest.order):
            try:
                score = int(plugin.obj.sniff(probe))
            except Exception as exc:  # a sniff that raises is a plugin bug, not a bad file
                log.warning("reader %s: sniff raised on %s: %s", plugin.manifest.name, path, exc)
                continue
            if score > best_score:
                best, best_score = plugin, score
        if best is None:
            raise ReaderError(f"not a supported image: {_describe_content(probe.head)} "
                              f"(named {probe.suffix or 'without extension'})", path=path, code="unsupported")
        return best

    def read(self, path: Path) -> ReadResult:
        """Read a file with the best reader; every failure is a ReaderError.

        The result carries the reader's manifest name, stamped here: provenance and the catalogue
        rely on it, so a reader neither repeats its name nor can misstate it.
        """
        plugin = self.pick_reader(path)
        try:
            result = plugin.obj.read(Path(path))
        except ReaderError:
            raise
        except (FileNotFoundError, PermissionError) as exc:
            raise ReaderError(f"cannot read: {exc.strerror or exc}", path=path,
                              code="vanished" if isinstance(exc, FileNotFoundError) else "permission") from exc
        except MemoryError as exc:
            raise ReaderError("image too large to decode in memory", path=path, code="too_large") from exc
        except Exception as exc:
            raise ReaderError(f"reader {plugin.manifest.name!r} failed: {type(exc).__name__}: {exc}",
                              path=path, code="reader_failed") from exc
        if not isinstance(result, ReadResult):
            raise PluginError(f"reader {plugin.manifest.name!r} returned {type(result).__name__}, not ReadResult")
        if result.reader != plugin.manifest.name:
            result = dataclasses.replace(result, reader=plugin.manifest.name)
        return result
