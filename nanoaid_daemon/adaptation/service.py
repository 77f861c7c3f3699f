"""The live loop: the daemon re-fits its classifier head from the operators' corrections.

One background thread polls the journal (the corrections are there, so they survive kill -9) and
the store's ``current.json`` (so ``nanoaid models rollback`` takes effect without a restart):

* when new corrections have been quiet for ``adaptation.batch_s`` (or ``max_wait_s`` has passed
  since the first unfitted one), it re-fits from the seed support plus every frame's newest
  correction, sorted by frame id so the same corrections always give the same model, writes a new
  version, points ``current.json`` at it, serves it to the classify analyzer and journals a
  ``model.adapted`` event with the cross-validated figures;
* when the pointer changes under it (a rollback), it serves the version named there.

The daemon's only duty is to start, stop and hand it the journal, the runtime, the reader and a way
to emit an event.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..events import AdaptedModel, Event
from ..sidecar import CLASSES
from .build import SupportFrame, fit_and_write
from .fit import Support
from .store import Store
from .support import embed_frames

__all__ = ["AdaptationService"]

log = logging.getLogger(__name__)


class AdaptationService:
    def __init__(self, settings: Any, journal: Any, runtime: Any, *, state_dir: Path,
                 read_pixels: Callable[[Path], np.ndarray], emit: Callable[[Event], Any]):
        self.options = settings.adaptation
        self.model_name = settings.plugins.options.get("classify", {}).get("model", "nffa-classifier")
        self.journal, self.runtime, self.emit, self.read_pixels = journal, runtime, emit, read_pixels
        self.store = Store(state_dir)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._base: Any = None
        self._fitted_count = 0
        self._pointer: tuple[int, int] | None = None
        self.serving = 0

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Serve the current version before the first frame, then watch in the background."""
        try:
            self._serve(self.store.current())
        except Exception as exc:  # a damaged version must not stop the daemon: the shipped model serves
            log.error("adaptation: version %d cannot be served (%s); using the shipped model",
                      self.store.current(), exc)
            self._serve(0)
        self._pointer = self.store.pointer_stamp()
        self._fitted_count = self.store.corrections_seen()
        self._thread = threading.Thread(target=self._loop, name="nanoaid-adaptation", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    # -- background loop -----------------------------------------------------------------------
    def _loop(self) -> None:
        first_seen: float | None = None
        last_count, last_change = self._fitted_count, time.monotonic()
        while not self._stop.wait(self.options.poll_s):
            try:
                self._follow_pointer()
                count = len(self.journal.corrections())
                now = time.monotonic()
                if count != last_count:
                    last_count, last_change = count, now
                if count > self._fitted_count:
                    first_seen = first_seen or now
                    if now - last_change >= self.options.batch_s or now - first_seen >= self.options.max_wait_s:
                        self.refit()
                        first_seen = None
            except Exception:  # never let adaptation take the daemon down; the next correction tries again
                log.exception("adaptation: re-fit failed; the classifier in use is unchanged")
                first_seen = None
                self._fitted_count = last_count

    def _follow_pointer(self) -> None:
        stamp = self.store.pointer_stamp()
        if stamp != self._pointer:
            self._pointer = stamp
            version = self.store.current()
            self._fitted_count = self.store.corrections_seen()  # a seed resets it: corrections join at once
            if version != self.serving:
                reason = "rollback" if version < self.serving else "seed"
                self._serve(version)
                self._announce(reason)

    # -- fitting ---------------------------------------------------------------------------------
    def base_model(self) -> Any:
        if self._base is None:
            self._base = self.runtime.load_file(self.runtime.card_path(self.model_name))
        return self._base

    def refit(self) -> int:
        """Fit from seed + all corrections, write the next version, serve it, announce it."""
        base = self.base_model()
        rows = self.journal.corrections()  # one snapshot: the support and the count recorded with it agree
        support, frames = self._support(base, _latest(rows))
        if support is None:
            return self.serving
        version, tmp = self.store.new_build_dir()
        corrections = len(rows)
        fit_and_write(support, frames, tmp, base, name=f"{self.model_name}-adapted", version=str(version),
                      extra={"live": {"corrections": corrections, "state_version": version}})
        self.store.commit(version, tmp)
        self.store.set_current(version, corrections_seen=corrections)
        self._pointer = self.store.pointer_stamp()
        self._serve(version)
        self._fitted_count = corrections
        self._announce("corrections")
        return version

    def _support(self, base: Any, latest: dict[str, dict]) -> tuple[Support | None, list[SupportFrame]]:
        labelled: dict[str, int] = {}
        for key, seed in self.store.load_embeddings(self.store.seed_dir).items():
            labelled[key] = int(seed["label"])
        for frame_id, row in latest.items():
            labelled[frame_id] = CLASSES.index(row["label"])
        cached = self.store.load_embeddings(self.store.cache_dir)
        seeds = self.store.load_embeddings(self.store.seed_dir)
        parts, frames = [], []
        for key in sorted(labelled):
            corrected = key in latest
            arrays: dict[str, np.ndarray] | None = seeds.get(key) if key in seeds and not corrected else cached.get(key)
            if arrays is None:
                arrays = self._embed_frame(base, key)
                if arrays is None:
                    continue
            parts.append((arrays, labelled[key]))
            frames.append(SupportFrame(key, labelled[key], key))
        if not parts:
            return None, []
        return _stack(parts), frames

    def _embed_frame(self, base: Any, frame_id: str) -> dict[str, np.ndarray] | None:
        record = self.journal.frame(frame_id)
        try:
            pixels = self.read_pixels(Path(record.path)) if record is not None else None
        except Exception as exc:
            log.warning("adaptation: corrected frame %s… cannot be read (%s); it is left out", frame_id[:12], exc)
            return None
        if pixels is None:
            return None
        s = embed_frames(base, [(pixels, 0)])
        arrays = {"emb": s.emb, "base_probs": s.base_probs}
        self.store.save_embedding(self.store.cache_dir, frame_id, arrays)
        return arrays

    # -- serving ---------------------------------------------------------------------------------
    def _serve(self, version: int) -> None:
        if version:
            card = self.store.folder(version) / f"{self.model_name}.card.json"
            self.runtime.install(self.model_name, self.runtime.load_file(card))
        else:
            self.runtime.install(self.model_name, None)
        self.serving = version
        log.info("adaptation: classifier in use is %s",
                 f"adapted version {version}" if version else "the shipped model")

    def _announce(self, reason: str) -> None:
        model = self.runtime.model(self.model_name)
        card = model.card
        metrics = card.metrics.get("cross_validated_on_support", {}) if self.serving else {}
        support = card.training.get("support", {}).get("counts", {}) if self.serving else {}
        base = card.training.get("base", {}).get("sha256") if self.serving else None
        self.emit(Event(type="model.adapted", model=AdaptedModel(
            name=card.name, version=card.version, sha256=card.sha256, base_sha256=base,
            support={k: int(v) for k, v in support.items() if v}, metrics=metrics, reason=reason)))
        log.info("adaptation: model.adapted %s %s (%s) %s", card.name, card.version, reason, metrics)


def _latest(rows: list[dict]) -> dict[str, dict]:
    """Each frame's newest correction, by frame id."""
    latest: dict[str, dict] = {}
    for row in rows:
        latest[row["frame_id"]] = row
    return latest


def _stack(parts: list[tuple[dict[str, np.ndarray], int]]) -> Support:
    embs, probs, labels, frames, clean = [], [], [], [], []
    for i, (arrays, label) in enumerate(parts):
        n = len(arrays["emb"])
        embs.append(arrays["emb"])
        probs.append(arrays["base_probs"])
        labels += [label] * n
        frames += [i] * n
        clean += [True] + [False] * (n - 1)
    return Support(np.concatenate(embs), np.concatenate(probs), np.array(labels), np.array(frames), np.array(clean))
