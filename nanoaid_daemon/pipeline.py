"""Reader → analyzers → sidecar: the one implementation the daemon, ``process`` and ``batch`` share.

Each analyzer is isolated: one that raises or outlives its timeout gives its section an error
(``errors[section]``) and the frame still completes with ``status = "partial"``.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .atomic import atomic_write_text
from .config import Settings, config_hash
from .errors import ModelUnavailable
from .events import Summary
from .frame import ReadResult
from .heap import steady_heap
from .host import LoadedPlugin, PluginHost
from .plugins import AnalysisContext
from .records import frame_info, instrument_zone, localize, page_sections
from .sidecar import ModelRef, Preview, Provenance, SectionError, Sidecar, Software, sidecar_name

__all__ = ["Pipeline", "Outcome", "call_with_timeout", "summary_of"]

log = logging.getLogger(__name__)

_TYPED_SECTIONS = ("classification", "alignment")


def call_with_timeout(fn: Callable[[], Any], timeout: float, name: str) -> Any:
    """Run ``fn`` in a daemon thread; raise TimeoutError if it has not returned in time.

    A hung call is abandoned (Python cannot kill a thread); being a daemon thread it never blocks
    shutdown, and the frame carries a ``timeout`` error instead of waiting forever.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"analyzer-{name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"analyzer {name!r} did not finish within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _error_for(exc: BaseException) -> SectionError:
    if isinstance(exc, ModelUnavailable):
        return SectionError(code="model_unavailable", message=str(exc))
    if isinstance(exc, TimeoutError):
        return SectionError(code="timeout", message=str(exc))
    return SectionError(code="analyzer_failed", message=f"{type(exc).__name__}: {exc}")


def summary_of(sidecar: Sidecar) -> Summary:
    c, a = sidecar.classification, sidecar.alignment
    return Summary(
        label=c.label if c else None,
        score=c.score if c else None,
        decision=c.decision if c else None,
        coherency=a.coherency if a else None,
        status=sidecar.status,
    )


@dataclass
class Outcome:
    sidecar: Sidecar
    sidecar_path: Path
    timings_ms: dict[str, float] = field(default_factory=dict)


class Pipeline:
    def __init__(self, settings: Settings, host: PluginHost, *, root: Path | None):
        self.settings = settings
        self.host = host
        self.root = Path(root).absolute() if root else None
        self._zone = instrument_zone(settings.timezone)
        self._config_hash = config_hash(settings)
        steady_heap()  # frame-sized arrays reused from the heap, not faulted in afresh (heap.py)

    # -- where outputs go ----------------------------------------------------------------------
    def output_dir_for(self, frame: Path) -> Path:
        frame = Path(frame).absolute()
        out_root = self.settings.output.root
        if out_root is None or self.root is None:
            return Path(out_root).absolute() if out_root is not None else frame.parent
        try:
            rel_parent = frame.parent.relative_to(self.root)
        except ValueError:
            rel_parent = Path()
        return Path(out_root).absolute() / rel_parent

    def sidecar_path_for(self, frame: Path) -> Path:
        return self.output_dir_for(frame) / sidecar_name(Path(frame).name)

    # -- the work ------------------------------------------------------------------------------
    def read(self, path: Path) -> ReadResult:
        return self.host.read(path)

    def analyze(self, read: ReadResult, *, frame_id: str, size_bytes: int) -> Outcome:
        """Run every analyzer on an already-read frame and build its sidecar (not yet written)."""
        path = Path(read.path).absolute()
        out_dir = self.output_dir_for(path)
        ctx = AnalysisContext(frame_id=frame_id, read=read, output_dir=out_dir, preview_stem=path.name)
        sections: dict[str, Any] = {"previews": [], "extensions": {}}
        errors: dict[str, SectionError] = {}
        timings: dict[str, float] = {}
        plugins_used = {}
        for plugin in self.host.analyzers:
            name = plugin.manifest.section or plugin.manifest.name
            started = time.perf_counter()
            try:
                value = call_with_timeout(functools.partial(plugin.obj.analyze, ctx),
                                          self.settings.pipeline.analyzer_timeout_s, plugin.manifest.name)
                self._place(sections, plugin, value)
                plugins_used[plugin.manifest.name] = plugin.manifest.version
            except Exception as exc:
                log.warning("%s: analyzer %s failed: %s", path.name, plugin.manifest.name, exc)
                errors[name] = _error_for(exc)
            timings[name] = round((time.perf_counter() - started) * 1000, 3)
        sidecar = self._sidecar(read, frame_id, size_bytes, sections, errors, timings, plugins_used, ctx)
        return Outcome(sidecar, out_dir / sidecar_name(path.name), timings)

    @staticmethod
    def _place(sections: dict[str, Any], plugin: LoadedPlugin, value: Any) -> None:
        section = plugin.manifest.section
        if section in _TYPED_SECTIONS:
            sections[section] = value
        elif section == "previews":
            sections["previews"].extend(value if isinstance(value, list) else [value])
        else:
            dumped = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
            sections["extensions"][plugin.manifest.name] = dumped

    def _sidecar(self, read, frame_id, size_bytes, sections, errors, timings, plugins_used, ctx) -> Sidecar:
        reader_versions = {p.manifest.name: p.manifest.version for p in self.host.readers
                           if p.manifest.name == read.reader}
        models = [ModelRef(name=m.name, version=m.version, sha256=m.sha256) for m in ctx.models_used]
        analyzers = len(self.host.analyzers)
        status = "ok" if not errors else ("failed" if analyzers and len(errors) >= analyzers else "partial")
        previews: list[Preview] = sections["previews"]
        return Sidecar(
            frame=frame_info(read, sha256=frame_id, size_bytes=size_bytes, root=self.root or read.path.parent),
            instrument=localize(read.primary.instrument, self._zone),
            pages=page_sections(read, self._zone),
            classification=sections.get("classification"),
            alignment=sections.get("alignment"),
            previews=previews,
            extensions=sections["extensions"],
            provenance=Provenance(
                software=Software(version=__version__),
                config_hash=self._config_hash,
                model_hashes={m.name: m.sha256 for m in models},
                models=models,
                plugins={**reader_versions, **plugins_used},
                timings_ms=timings,
            ),
            status=status,
            errors=errors,
            warnings=list(read.warnings),
        )

    def write(self, outcome: Outcome) -> Path:
        started = time.perf_counter()
        atomic_write_text(outcome.sidecar_path, outcome.sidecar.to_json())
        outcome.timings_ms["sidecar_write"] = round((time.perf_counter() - started) * 1000, 3)
        return outcome.sidecar_path
