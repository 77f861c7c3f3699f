"""Plugin protocols, manifests and discovery.

A plugin is declared by an entry point in the group ``nanoaid.plugins`` that names a manifest
(a :class:`PluginManifest` or a plain dict of its fields). The manifest names a factory as a
``"package.module:attribute"`` string, imported only when the plugin is first used. Discovery
never raises: a broken plugin comes back with its error, is disabled, and is reported.
"""
from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import PluginError
from .frame import Page, ReadResult

if TYPE_CHECKING:  # only for annotations: importing these at run time would pull in onnxruntime
    from .inference import Runtime
    from .uploader.bundle import Bundle, Receipt

__all__ = [
    "ENTRY_POINT_GROUP",
    "PLUGIN_API_VERSION",
    "REQUIRED_METHODS",
    "api_check",
    "missing_methods",
    "PluginManifest",
    "PluginContext",
    "Probe",
    "Reader",
    "AnalysisContext",
    "ModelUse",
    "Analyzer",
    "Sink",
    "DiscoveredPlugin",
    "discover",
    "load_factory",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "nanoaid.plugins"
PluginKind = Literal["reader", "analyzer", "sink"]
#: The plugin contract this host implements, "major.minor". A minor step only adds (optional
#: manifest fields, context methods); a major step may remove or change, and is refused.
PLUGIN_API_VERSION = "1.0"
#: What the host calls on each kind of plugin object; a plugin without one of these is disabled.
REQUIRED_METHODS: dict[str, tuple[str, ...]] = {
    "reader": ("sniff", "read"),
    "analyzer": ("analyze",),
    "sink": ("describe", "check", "put", "close"),
}
_SUFFIX = re.compile(r"^\.[a-z0-9]+$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


class PluginManifest(BaseModel):
    """What a plugin says about itself; validated before anything of it is imported."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$", description="Unique plugin name.")
    kind: PluginKind = Field(description="reader, analyzer or sink.")
    version: str = Field(min_length=1, description="The plugin's own version.")
    description: str = Field(min_length=1, description="One line for `nanoaid plugins list`.")
    factory: str = Field(
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="'package.module:callable' taking a PluginContext and returning the plugin object.",
    )
    handles: list[str] = Field(
        default_factory=list,
        description="Readers: file suffixes they may read (lower case, with dot). Sinks: URL schemes.",
    )
    section: str | None = Field(None, description="Analyzers: the sidecar section they fill.")
    order: int = Field(100, description="Analyzers run in ascending order; readers break sniff ties by it.")
    api_version: str = Field(
        "1.0", pattern=r"^\d+\.\d+$",
        description="The plugin contract (PLUGIN_API_VERSION) it was written for; another major is refused.",
    )

    @model_validator(mode="after")
    def _fits_its_kind(self) -> PluginManifest:
        """Each kind uses its own fields: catch a reader with a section or a sink without schemes early."""
        if self.kind == "analyzer":  # without a section its result goes to extensions.<name>
            if self.handles:
                raise ValueError("an analyzer has no 'handles' (that is for readers and sinks)")
            return self
        if self.section is not None:
            raise ValueError(f"a {self.kind} has no 'section' (only analyzers fill one)")
        if self.kind == "reader":
            bad = [h for h in self.handles if not _SUFFIX.match(h)]
            if bad:
                raise ValueError(f"reader 'handles' are lower-case file suffixes with a dot (e.g. '.tif'), not {bad}")
        else:
            if not self.handles:
                raise ValueError("a sink must list the URL schemes it 'handles' (e.g. ['s3'])")
            bad = [h for h in self.handles if not _SCHEME.match(h)]
            if bad:
                raise ValueError(f"sink 'handles' are lower-case URL schemes without '://' (e.g. 's3'), not {bad}")
        return self


def api_check(manifest: PluginManifest) -> tuple[str | None, str | None]:
    """(error, warning) of a manifest's ``api_version`` against this host's :data:`PLUGIN_API_VERSION`.

    Another major version is an error: the contract changed incompatibly. A newer minor is a
    warning: the plugin may use additions this host lacks, so it loads but is flagged.
    """
    major, minor = (int(p) for p in manifest.api_version.split("."))
    host_major, host_minor = (int(p) for p in PLUGIN_API_VERSION.split("."))
    if major != host_major:
        return (f"plugin {manifest.name!r} targets plugin API {manifest.api_version}, this nanoaid implements "
                f"{PLUGIN_API_VERSION}: install a release of the plugin for API {host_major}.x, or a nanoaid "
                f"that implements API {major}.x"), None
    if minor > host_minor:
        return None, (f"plugin {manifest.name!r} targets plugin API {manifest.api_version}, newer than this "
                      f"nanoaid's {PLUGIN_API_VERSION}: it loads, but features it relies on may be missing; "
                      "upgrade nanoaid")
    return None, None


def missing_methods(kind: str, obj: object) -> list[str]:
    """The methods the host calls on a ``kind`` plugin that ``obj`` lacks."""
    return [name for name in REQUIRED_METHODS[kind] if not callable(getattr(obj, name, None))]


@dataclass(frozen=True)
class PluginContext:
    """What the host gives a plugin factory."""

    manifest: PluginManifest
    options: dict[str, Any] = field(default_factory=dict)
    models_dir: Path | None = None
    runtime: Runtime | None = None  # the host's shared models; None: Runtime.for_plugin() makes one


class Probe:
    """Cheap, cached facts about a candidate file, shared by every reader's ``sniff``."""

    HEAD_BYTES = 65536

    def __init__(self, path: Path):
        self.path = Path(path)

    @cached_property
    def head(self) -> bytes:
        with open(self.path, "rb") as fh:
            return fh.read(self.HEAD_BYTES)

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()

    @cached_property
    def is_tiff(self) -> bool:
        return self.head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

    @cached_property
    def tiff_tags(self) -> frozenset[int]:
        """Tag codes of the first IFD, or an empty set for anything that is not a readable TIFF."""
        if not self.is_tiff:
            return frozenset()
        try:
            import tifffile

            with tifffile.TiffFile(self.path) as tif:
                return frozenset(tag.code for tag in tif.pages.first.tags.values())
        except Exception:  # a sniff must never raise; the reader reports the real problem
            return frozenset()

    def sibling(self, suffix: str) -> Path | None:
        """An existing file with the same stem and the given suffix (any case), or None."""
        for candidate in (self.path.with_suffix(suffix), self.path.with_suffix(suffix.upper())):
            if candidate.is_file():
                return candidate
        return None


@runtime_checkable
class Reader(Protocol):
    def sniff(self, probe: Probe) -> int:
        """0: not mine. Higher means more specific (generic readers ~10, vendor readers ~100)."""

    def read(self, path: Path) -> ReadResult:
        """Read pixels and metadata, or raise ReaderError with a readable reason."""


@dataclass(frozen=True)
class ModelUse:
    """One model an analyzer ran on a frame; the sidecar's provenance lists each."""

    name: str
    version: str
    sha256: str


@dataclass
class AnalysisContext:
    """One frame on its way through the analyzers."""

    frame_id: str
    read: ReadResult
    output_dir: Path
    preview_stem: str
    shared: dict[str, Any] = field(default_factory=dict)
    models_used: list[ModelUse] = field(default_factory=list)

    @property
    def page(self) -> Page:
        return self.read.primary

    def record_model(self, *, name: str, version: str, sha256: str) -> None:
        """Say that a model shaped this frame's record; call it after every model run.

        A FAIR record must name every model behind it, so the host lists these in
        ``provenance.models`` and ``provenance.model_hashes``. Recording one model twice is harmless.
        """
        use = ModelUse(name=name, version=version, sha256=sha256)
        if use not in self.models_used:
            self.models_used.append(use)


@runtime_checkable
class Analyzer(Protocol):
    def analyze(self, ctx: AnalysisContext) -> Any:
        """Return the section (a pydantic model, or a list of Preview) or raise."""


@runtime_checkable
class Sink(Protocol):
    """A repository the uploader puts frames into. Every method here is called by the uploader."""

    def describe(self) -> str:
        """One line naming the target, without secrets (shown by ``nanoaid upload status``)."""

    def check(self) -> None:
        """Raise SinkError unless the target is reachable and usable now (the uploader waits and retries)."""

    def put(self, bundle: Bundle) -> Receipt:
        """Store one frame bundle idempotently and verified; raise SinkError to have it retried."""

    def close(self) -> None:
        """Release connections; called once when the uploader stops."""


@dataclass(frozen=True)
class DiscoveredPlugin:
    """A plugin as discovery found it: a manifest, or the reason it is disabled."""

    entry_point: str
    manifest: PluginManifest | None
    error: str | None = None
    warning: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.manifest is not None


def _manifest_from(obj: Any) -> PluginManifest:
    if isinstance(obj, PluginManifest):
        return obj
    if isinstance(obj, dict):
        return PluginManifest.model_validate(obj)
    raise PluginError(f"entry point must name a PluginManifest or a dict, got {type(obj).__name__}")


def discover(group: str = ENTRY_POINT_GROUP) -> list[DiscoveredPlugin]:
    """All declared plugins, sorted by name; never raises."""
    found: list[DiscoveredPlugin] = []
    seen: set[str] = set()
    for ep in entry_points(group=group):
        label = f"{ep.name} = {ep.value}"
        try:
            manifest = _manifest_from(ep.load())
        except ValidationError as exc:
            found.append(DiscoveredPlugin(label, None, f"invalid manifest: {exc.errors()[0]['msg']} "
                                          f"at {'.'.join(map(str, exc.errors()[0]['loc']))}"))
            continue
        except Exception as exc:  # an import error in a third-party package must not stop us
            found.append(DiscoveredPlugin(label, None, f"cannot load manifest: {type(exc).__name__}: {exc}"))
            continue
        if manifest.name in seen:
            found.append(DiscoveredPlugin(label, manifest, f"duplicate plugin name {manifest.name!r}"))
            continue
        seen.add(manifest.name)
        error, warning = api_check(manifest)
        if warning:
            log.warning("%s", warning)
        found.append(DiscoveredPlugin(label, manifest, error, warning))
    return sorted(found, key=lambda p: (p.manifest.name if p.manifest else p.entry_point))


def load_factory(manifest: PluginManifest) -> Callable[[PluginContext], Any]:
    """Import the manifest's factory, or raise PluginError naming the plugin."""
    module_name, _, attr = manifest.factory.partition(":")
    try:
        module = importlib.import_module(module_name)
        factory = getattr(module, attr)
    except Exception as exc:
        raise PluginError(
            f"plugin {manifest.name!r}: cannot import factory {manifest.factory!r}: {type(exc).__name__}: {exc}"
        ) from exc
    if not callable(factory):
        raise PluginError(f"plugin {manifest.name!r}: factory {manifest.factory!r} is not callable")
    return factory
