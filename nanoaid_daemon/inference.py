"""The inference runtime: one onnxruntime session per model, created once and shared by analyzers.

Why it looks like this:

* Sessions are expensive (graph optimisation, weight packing), so each model is loaded once,
  warmed up with one dummy batch, and reused by every worker thread.
* The instrument PC must stay responsive: the intra-op thread pool is sized from the CPU budget and
  its threads sleep instead of spinning between runs (``allow_spinning=0``).
* When frames pile up (a burst of saves, an archive reprocess), worker threads asking the same model
  at the same time are served by one batched run of up to ``max_batch`` rows (see ``batcher.py``);
  with no backlog a request runs alone at once, so batching never adds latency.
* A missing, corrupt or unloadable model raises :class:`ModelUnavailable` naming the file. The
  failure is remembered until the card or model file changes on disk, so a broken model costs a
  ``stat`` and a small card read per frame, and a repaired one is picked up without a restart.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .batcher import Batcher
from .errors import ConfigError, ModelUnavailable
from .modelcard import ModelCard, verify_model
from .preprocess import Geometry, prepare
from .scalefeed import scale_input_name as _scale_input
from .scalefeed import widths_column as _widths
from .states import ACCEPT_THRESHOLD, REVIEW_THRESHOLD

if TYPE_CHECKING:
    from .plugins import PluginContext

__all__ = ["Runtime", "Model", "ClassifierOutput", "CLASSIFIER_KEY", "resolve_providers", "REQUIRED_OUTPUTS",
           "load_runtime", "check_models_dir"]

log = logging.getLogger(__name__)

DEFAULT_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")
GPU_PROVIDERS = frozenset({"CUDAExecutionProvider", "TensorrtExecutionProvider"})
REQUIRED_OUTPUTS = {"classifier": ("probs", "align_prob", "cams"), "autoencoder": ("enc1",)}
ENCODER_OUTPUT = re.compile(r"^enc(\d+)$")
#: Key in ``AnalysisContext.shared`` under which the classifier leaves its :class:`ClassifierOutput`.
CLASSIFIER_KEY = "classifier"


@dataclass(frozen=True)
class ClassifierOutput:
    """What the classifier computed for one frame, for later analyzers (no second inference)."""

    model: str
    classes: tuple[str, ...]
    probs: np.ndarray  # [classes], averaged over the views
    align_prob: float
    label: str
    cams: np.ndarray  # [classes, h, w] of the whole-frame view
    geometry: Geometry  # where the frame lies in that view's input
    views: str


def _nvidia_device_present() -> bool:
    """Cheap check that avoids onnxruntime's noisy CUDA load failure on GPU-less Linux hosts."""
    if not sys.platform.startswith("linux"):
        return True
    return Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia/version").exists()


def resolve_providers(configured: Sequence[str]) -> list[str]:
    """The configured providers this host can use, in order; CPU is always the last resort."""
    import onnxruntime as ort

    known, available = set(ort.get_all_providers()), set(ort.get_available_providers())
    chosen = []
    for name in configured:
        if name not in known:
            raise ConfigError(f"setting 'models.providers': unknown execution provider {name!r}; "
                              f"known: {', '.join(sorted(known))}")
        if name not in available:
            log.info("execution provider %s is not part of this onnxruntime build; skipped", name)
        elif name in GPU_PROVIDERS and not _nvidia_device_present():
            log.info("execution provider %s skipped: no NVIDIA GPU on this host", name)
        elif name not in chosen:
            chosen.append(name)
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


class Model:
    """A loaded model: its card, its session, and batched thread-safe inference."""

    def __init__(self, card: ModelCard, path: Path, session: Any, max_batch: int):
        self.card, self.path, self.session = card, path, session
        self.provider = session.get_providers()[0]
        self.input_name = card.input.name
        self.output_names = tuple(o.name for o in session.get_outputs())
        #: Name of the field-width input when the card declares one and the file has it, else None.
        self.scale_input = _scale_input(card, session)
        fixed = session.get_inputs()[0].shape[0]
        self._batcher = Batcher(self._run, 1 if isinstance(fixed, int) and fixed == 1 else max_batch)
        self.stats, self.hold, self.pending = self._batcher.stats, self._batcher.hold, self._batcher.pending

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def max_batch(self) -> int:
        return self._batcher.max_rows

    def encoder_outputs(self) -> list[str]:
        """``enc1`` … ``encK`` in depth order."""
        found = [(int(m.group(1)), n) for n in self.output_names if (m := ENCODER_OUTPUT.match(n))]
        return [n for _, n in sorted(found)]

    def prepare(self, pixels: np.ndarray, dtype: Any = None) -> tuple[np.ndarray, Geometry]:
        """One frame as this model's input [C, H, W], preprocessed as its card says."""
        return prepare(pixels, self.card.input, dtype)

    def infer(self, batch: np.ndarray, outputs: Sequence[str] | None = None,
              field_width_um: Sequence[float | None] | np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Outputs for ``batch`` [N, C, H, W]; may be served together with other threads' requests.

        ``field_width_um``: each row's horizontal field width (None or NaN where unknown). A model
        with a scale input gets it (all unknown when not given); any other model ignores it.
        """
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim != 4:
            raise ValueError(f"model {self.name}: expected a [N, C, H, W] batch, got shape {batch.shape}")
        wanted = tuple(outputs) if outputs else self.output_names
        missing = [o for o in wanted if o not in self.output_names]
        if missing:
            raise ModelUnavailable(f"model file {self.path} has no output {missing[0]!r}")
        if self.scale_input is None:
            return self._batcher.submit(batch, wanted)
        return self._batcher.submit(batch, wanted, _widths(field_width_um, len(batch), self.name))

    def _feeds(self, stacked: np.ndarray, widths: np.ndarray | None) -> dict[str, np.ndarray]:
        feeds = {self.input_name: stacked}
        if widths is not None and self.scale_input is not None:
            feeds[self.scale_input] = widths
        return feeds

    def _run(self, stacked: np.ndarray, names: list[str], widths: np.ndarray | None = None) -> dict[str, np.ndarray]:
        if self.provider in GPU_PROVIDERS:
            return self._run_bound(stacked, names, widths)
        return dict(zip(names, self.session.run(names, self._feeds(stacked, widths)), strict=True))

    def _run_bound(self, stacked: np.ndarray, names: list[str],
                   widths: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """On a GPU, with I/O binding: the batch goes to the device in one copy, outputs stay there
        until the run ends and come back in one copy each, and no output is staged through the
        provider's own host buffers. (On the CPU provider binding saves nothing: plain ``run``.)"""
        binding = self.session.io_binding()
        for name, value in self._feeds(stacked, widths).items():
            binding.bind_cpu_input(name, value)
        for name in names:
            binding.bind_output(name, "cuda")
        self.session.run_with_iobinding(binding)
        return dict(zip(names, binding.copy_outputs_to_cpu(), strict=True))


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _signature(card_path: Path) -> tuple:
    """What must change on disk before a failed model is tried again: the card and its model file."""
    try:
        model_file = json.loads(card_path.read_text(encoding="utf-8")).get("file")
    except (OSError, ValueError, AttributeError):
        model_file = None
    model_stat = _stat(card_path.with_name(model_file)) if isinstance(model_file, str) and model_file else None
    return _stat(card_path), model_file, model_stat


@dataclass
class Runtime:
    """All models of one process. Make it with :meth:`from_settings`; end it with :meth:`close`."""

    models_dir: Path
    providers: Sequence[str] = DEFAULT_PROVIDERS
    threads: int = 1
    max_batch: int = 16
    accept_threshold: float | None = None
    review_threshold: float | None = None
    _models: dict[str, Model] = field(default_factory=dict, repr=False)
    _failures: dict[str, tuple[tuple, ModelUnavailable]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.models_dir = Path(self.models_dir)
        self.configured_providers = tuple(self.providers)
        self.providers = resolve_providers(self.providers)
        if self.threads < 1 or self.max_batch < 1:
            raise ConfigError("inference threads and models.max_batch must be at least 1")
        a, r = self.accept_threshold, self.review_threshold
        if a is not None and r is not None and r > a:
            raise ConfigError(f"setting 'models.review_threshold' ({r}) is above 'models.accept_threshold' ({a})")

    @classmethod
    def from_settings(cls, settings: Any) -> Runtime:
        m = settings.models
        return cls(m.resolved_dir(), providers=list(m.providers), threads=settings.pipeline.workers(),
                   max_batch=m.max_batch, accept_threshold=m.accept_threshold,
                   review_threshold=m.review_threshold)

    @classmethod
    def for_plugin(cls, ctx: PluginContext) -> Runtime:
        """The host's runtime, or one shared by every plugin created without one."""
        if ctx.runtime is not None:
            return ctx.runtime
        from .config import default_models_dir

        key = Path(ctx.models_dir or default_models_dir()).resolve()
        with _STANDALONE_LOCK:
            if key not in _STANDALONE:
                _STANDALONE[key] = cls(key, threads=max(1, (os.cpu_count() or 2) - 1))
            return _STANDALONE[key]

    def card_path(self, name: str) -> Path:
        return self.models_dir / f"{name}.card.json"

    def model(self, name: str) -> Model:
        """The loaded model ``name`` (card ``<name>.card.json``), or ModelUnavailable naming the file."""
        loaded = self._models.get(name)
        if loaded is not None:
            return loaded
        with self._lock:
            if name in self._models:
                return self._models[name]
            card_path = self.card_path(name)
            signature = _signature(card_path)
            failed = self._failures.get(name)
            if failed is not None and failed[0] == signature:
                raise failed[1]
            try:
                self._models[name] = self._load(card_path)
            except ModelUnavailable as exc:
                log.error("model %s unavailable: %s", name, exc)
                self._failures[name] = (signature, exc)
                raise
            self._failures.pop(name, None)
            return self._models[name]

    def load_file(self, card_path: Path) -> Model:
        """A model from any card path, loaded and warmed up but not cached (see :meth:`install`)."""
        return self._load(Path(card_path))

    def install(self, name: str, model: Model | None) -> None:
        """Serve ``model`` to every later ``model(name)`` call (an adapted classifier), or with
        ``None`` go back to the card in the models folder. Frames in flight keep the one they hold."""
        with self._lock:
            if model is None:
                self._models.pop(name, None)
            else:
                self._models[name] = model
            self._failures.pop(name, None)

    def _load(self, card_path: Path) -> Model:
        card, path = verify_model(card_path)
        _check_card(card, card_path)
        session = self._session(path, quiet=card.scale_input is not None)
        _check_session(card, path, session)
        model = Model(card, path, session, self.max_batch)
        self._warm_up(model)
        log.info("model %s %s loaded from %s on %s (configured: %s; %d intra-op thread%s, batches up to %d)",
                 card.name, card.version, path, model.provider, ", ".join(self.configured_providers), self.threads,
                 "" if self.threads == 1 else "s", model.max_batch)
        if card.input.databar == "keep":
            log.info("model %s asks to keep the databar; readers remove it, so it sees the image proper", card.name)
        return model

    def _session(self, path: Path, *, quiet: bool = False) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        if quiet:  # a declared optional scale input is an initializer a caller may override, which
            options.log_severity_level = 3  # onnxruntime warns of on every load: errors only for those
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(str(path), options, providers=list(self.providers))
        except Exception as exc:  # onnxruntime raises its own types for bad protobufs, ops, shapes
            raise ModelUnavailable(f"model file {path} cannot be loaded by onnxruntime: {exc}; "
                                   "restore it or rebuild the models") from exc

    def _warm_up(self, model: Model) -> None:
        spec = model.card.input
        try:
            model.infer(np.zeros((1, spec.channels, spec.height, spec.width), np.float32))
        except Exception as exc:
            raise ModelUnavailable(f"model file {model.path} fails on a warm-up batch shaped as its card says "
                                   f"(1, {spec.channels}, {spec.height}, {spec.width}): {exc}") from exc

    def thresholds(self, card: ModelCard) -> tuple[float, float]:
        """(accept, review): the card's values unless configuration overrides them."""
        accept = card.thresholds.get("accept", ACCEPT_THRESHOLD) if self.accept_threshold is None \
            else self.accept_threshold
        review = card.thresholds.get("review", REVIEW_THRESHOLD) if self.review_threshold is None \
            else self.review_threshold
        if review > accept:
            raise ConfigError(f"review threshold {review} is above accept threshold {accept} "
                              f"(model card {card.name} and settings 'models.*_threshold')")
        return float(accept), float(review)

    def loaded(self) -> dict[str, Model]:
        return dict(self._models)

    def close(self) -> None:
        """Release every session; a later :meth:`model` call loads again."""
        with self._lock:
            self._models.clear()
            self._failures.clear()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_models_dir(folder: Path) -> list[Path]:
    """The model cards in ``folder``, or ConfigError naming the folder and the setting that chose it.

    A missing or empty models folder is a broken install or a wrong setting, not a per-frame
    problem: every frame would come out ``partial`` with no classification, so it stops the start.
    """
    from .config import MODELS_SETTING

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"models folder {folder} does not exist; set {MODELS_SETTING} to the folder "
                          "of the ONNX models and their cards, or reinstall nanoaid-daemon")
    cards = sorted(folder.glob("*.card.json"))
    if not cards:
        raise ConfigError(f"models folder {folder} holds no model cards (*.card.json); set {MODELS_SETTING} "
                          "to the folder of the ONNX models and their cards, or reinstall nanoaid-daemon")
    return cards


def load_runtime(settings: Any, *, require_models: bool = True) -> Runtime:
    """The inference runtime for ``settings``: what the daemon, ``process`` and ``batch`` run on.

    With ``require_models`` (the default) a missing or empty models folder is a ConfigError (exit 2
    on the command line) instead of a stream of ``partial`` sidecars. A single broken model stays a
    per-section ``model_unavailable`` error, picked up again once repaired.
    """
    if require_models:
        check_models_dir(settings.models.resolved_dir())
    return Runtime.from_settings(settings)


_STANDALONE: dict[Path, Runtime] = {}
_STANDALONE_LOCK = threading.Lock()


def _check_card(card: ModelCard, card_path: Path) -> None:
    spec = card.input
    if len(spec.mean) != spec.channels or len(spec.std) != spec.channels or not all(s > 0 for s in spec.std):
        raise ModelUnavailable(f"model card {card_path}: input mean/std need {spec.channels} values, std > 0")
    for key in ("accept", "review"):
        if not 0 <= card.thresholds.get(key, 0.5) <= 1:
            raise ModelUnavailable(f"model card {card_path}: threshold {key!r} must lie in [0, 1]")


def _check_session(card: ModelCard, path: Path, session: Any) -> None:
    inputs = [i.name for i in session.get_inputs()]
    if card.input.name not in inputs:
        raise ModelUnavailable(f"model file {path} has no input {card.input.name!r} (it has {inputs})")
    outputs = {o.name for o in session.get_outputs()}
    for name in REQUIRED_OUTPUTS[card.task]:
        if name not in outputs:
            raise ModelUnavailable(f"model file {path} lacks the output {name!r} a {card.task} must have "
                                   f"(see nanoaid_daemon/modelcard.py)")
