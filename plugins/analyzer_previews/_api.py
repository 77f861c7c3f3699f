"""Preview analyzer: small PNGs beside the sidecar, each listed with its sha256 and size.

The class-evidence map reuses the classifier's CAM left in ``ctx.shared`` (no second inference);
when classification failed it is left out, since that section already carries the reason. The AI
lens needs the autoencoder: when it is unavailable the section fails with ``model_unavailable``
before any file is written, so no preview exists on disk that the sidecar does not list. A facility
without an autoencoder drops ``ai_lens`` from ``kinds``.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nanoaid_daemon.atomic import atomic_write_bytes
from nanoaid_daemon.errors import ConfigError, ModelUnavailable
from nanoaid_daemon.inference import CLASSIFIER_KEY, Model, Runtime
from nanoaid_daemon.plugins import AnalysisContext, PluginContext
from nanoaid_daemon.sidecar import Preview

from .render import cam_to_frame, encode_png, montage, overlay, thumbnail

__all__ = ["PreviewOptions", "PreviewAnalyzer", "create", "preview_name"]

log = logging.getLogger(__name__)
Kind = Literal["thumbnail", "cam", "ai_lens"]


class PreviewOptions(BaseModel):
    """``[plugins.options.previews]``."""

    model_config = ConfigDict(extra="forbid")

    kinds: list[Kind] = Field(default_factory=lambda: ["thumbnail", "cam", "ai_lens"], description="Previews to write.")
    max_side_px: int = Field(512, ge=32, le=4096, description="Longest side of every preview, pixels.")
    autoencoder: str = Field("sem-autoencoder", description="Model card name of the AI-lens autoencoder.")
    lens_depths: list[int] | None = Field(None, description="Encoder depths shown (1 = enc1); default: all.")
    lens_channels: int = Field(4, ge=1, le=32, description="Most active channels shown per depth.")
    cam_alpha: float = Field(0.6, gt=0, le=1, description="Opacity of the class-evidence colours at the hottest place.")
    png_compress_level: int = Field(1, ge=0, le=9, description="zlib level: 1 is fastest and within ~15% of the smallest on SEM noise.")


def create(ctx: PluginContext) -> PreviewAnalyzer:
    try:
        options = PreviewOptions.model_validate(ctx.options)
    except ValidationError as exc:
        raise ConfigError(f"plugins.options.{ctx.manifest.name}: {exc.errors()[0]['msg']} "
                          f"at {'.'.join(map(str, exc.errors()[0]['loc']))}") from None
    if options.lens_depths is not None and any(d < 1 for d in options.lens_depths):
        raise ConfigError(f"plugins.options.{ctx.manifest.name}.lens_depths: depths count from 1 (enc1)")
    return PreviewAnalyzer(options, Runtime.for_plugin(ctx))


def preview_name(stem: str, kind: str) -> str:
    """``<frame file name>.nanoaid.<kind>.png``: the watcher ignores it, frames never share one."""
    return f"{stem}.nanoaid.{kind}.png"


class PreviewAnalyzer:
    def __init__(self, options: PreviewOptions, runtime: Runtime):
        self.options, self.runtime = options, runtime
        if "ai_lens" in options.kinds:
            try:
                runtime.model(options.autoencoder)
            except ModelUnavailable as exc:
                log.error("AI-lens previews will report model_unavailable until this is fixed: %s", exc)

    def analyze(self, ctx: AnalysisContext) -> list[Preview]:
        kinds = self.options.kinds
        lens = self._lens(self.runtime.model(self.options.autoencoder), ctx) if "ai_lens" in kinds else None
        images: list[tuple[str, np.ndarray]] = []
        grey = thumbnail(ctx.page.pixels, self.options.max_side_px)
        if "thumbnail" in kinds:
            images.append(("thumbnail", grey))
        classified = ctx.shared.get(CLASSIFIER_KEY)
        if "cam" in kinds and classified is not None:
            index = classified.classes.index(classified.label)
            heat = cam_to_frame(classified.cams[index], classified.geometry, grey.shape)
            images.append(("cam", overlay(grey, heat, self.options.cam_alpha)))
        if lens is not None:
            images.append(("ai_lens", lens))
        return [self._write(ctx.output_dir, ctx.preview_stem, kind, image) for kind, image in images]

    def _depths(self, model: Model) -> list[str]:
        names = model.encoder_outputs()
        if self.options.lens_depths is None:
            return names
        missing = [d for d in self.options.lens_depths if d > len(names)]
        if missing:
            raise ValueError(f"plugins.options.previews.lens_depths asks for depth {missing[0]} but model "
                             f"{model.name} has {len(names)} encoder outputs (enc1..enc{len(names)})")
        return [names[d - 1] for d in self.options.lens_depths]

    def _lens(self, model: Model, ctx: AnalysisContext) -> np.ndarray:
        """The autoencoder's input beside its most active channels at each chosen depth."""
        tensor, _ = model.prepare(ctx.page.pixels)
        names = self._depths(model)
        out = model.infer(tensor[None], names)
        ctx.record_model(name=model.card.name, version=model.card.version, sha256=model.card.sha256)
        rows = []
        for name in names:
            act = out[name][0]
            if act.ndim != 3:  # a flat bottleneck has no picture to show
                continue
            activity = np.abs(act).reshape(act.shape[0], -1).mean(axis=1)
            top = np.argsort(-activity, kind="stable")[: self.options.lens_channels]
            rows.append([act[i] for i in top])
        if not rows:
            raise ValueError(f"model {model.name} has no spatial encoder activations to show")
        spec = model.card.input
        shown = tensor[0] * spec.std[0] + spec.mean[0]
        return montage(shown, rows, self.options.max_side_px)

    def _write(self, folder: Path, stem: str, kind: str, image: np.ndarray) -> Preview:
        data = encode_png(image, self.options.png_compress_level)
        name = preview_name(stem, kind)
        atomic_write_bytes(Path(folder) / name, data)
        return Preview(kind=kind, path=name, sha256=hashlib.sha256(data).hexdigest(), media_type="image/png",
                       width_px=image.shape[1], height_px=image.shape[0])
