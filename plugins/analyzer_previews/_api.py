"""Preview analyzer: small images beside the sidecar, each listed with its sha256, size and media type.

The full frame is converted and shrunk once; the thumbnail, the overlay and the autoencoder's
input are drawn from that copy, and the autoencoder runs without its decoder (``encoder.py``).
The thumbnail and overlay are JPEG (photo-like; ``photo_format``), the AI lens a palette PNG.

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

from nanoaid_daemon.atomic import atomic_write_files
from nanoaid_daemon.errors import ConfigError, ModelUnavailable
from nanoaid_daemon.inference import CLASSIFIER_KEY, Model, Runtime
from nanoaid_daemon.plugins import AnalysisContext, PluginContext
from nanoaid_daemon.sidecar import Preview

from .encoder import EncoderSessions
from .render import (
    LENS_PALETTE,
    cam_to_frame,
    contrast,
    encode_jpeg,
    encode_png,
    grey_thumbnail,
    lens_input,
    lens_size,
    montage,
    overlay,
    shrink,
)

__all__ = ["PreviewOptions", "PreviewAnalyzer", "create", "preview_name"]

log = logging.getLogger(__name__)
Kind = Literal["thumbnail", "cam", "ai_lens"]
ALL_KINDS: tuple[Kind, ...] = ("thumbnail", "cam", "ai_lens")


class PreviewOptions(BaseModel):
    """``[plugins.options.previews]``."""

    model_config = ConfigDict(extra="forbid")

    kinds: list[Kind] = Field(default_factory=lambda: list(ALL_KINDS), description="Previews to write.")
    max_side_px: int = Field(512, ge=32, le=4096, description="Longest side of every preview, pixels.")
    autoencoder: str = Field("sem-autoencoder", description="Model card name of the AI-lens autoencoder.")
    lens_depths: list[int] | None = Field(None, description="Encoder depths shown (1 = enc1); default: all.")
    lens_channels: int = Field(4, ge=1, le=32, description="Most active channels shown per depth.")
    cam_alpha: float = Field(0.6, gt=0, le=1, description="Opacity of the class-evidence colours at the hottest place.")
    png_compress_level: int = Field(
        1, ge=0, le=9, description="zlib level: 1 is fastest and within ~15% of the smallest on SEM noise.")
    photo_format: Literal["jpeg", "png"] = Field(
        "jpeg", description="Thumbnail and class-evidence overlay: 'jpeg' (~1 ms) or lossless 'png' (10-20 ms).")
    jpeg_quality: int = Field(85, ge=1, le=100, description="JPEG quality of the photo-like previews.")


def create(ctx: PluginContext) -> PreviewAnalyzer:
    try:
        options = PreviewOptions.model_validate(ctx.options)
    except ValidationError as exc:
        raise ConfigError(f"plugins.options.{ctx.manifest.name}: {exc.errors()[0]['msg']} "
                          f"at {'.'.join(map(str, exc.errors()[0]['loc']))}") from None
    if options.lens_depths is not None and any(d < 1 for d in options.lens_depths):
        raise ConfigError(f"plugins.options.{ctx.manifest.name}.lens_depths: depths count from 1 (enc1)")
    return PreviewAnalyzer(options, Runtime.for_plugin(ctx))


MEDIA = {"png": "image/png", "jpg": "image/jpeg"}


def preview_name(stem: str, kind: str, suffix: str = "png") -> str:
    """``<frame file name>.nanoaid.<kind>.<suffix>``: the watcher ignores it, frames never share one."""
    return f"{stem}.nanoaid.{kind}.{suffix}"


class PreviewAnalyzer:
    def __init__(self, options: PreviewOptions, runtime: Runtime):
        self.options, self.runtime = options, runtime
        self._encoder = EncoderSessions(runtime)
        if "ai_lens" in options.kinds:
            try:
                runtime.model(options.autoencoder)
            except ModelUnavailable as exc:
                log.error("AI-lens previews will report model_unavailable until this is fixed: %s", exc)

    def analyze(self, ctx: AnalysisContext) -> list[Preview]:
        kinds, pixels = self.options.kinds, ctx.page.pixels
        model = self.runtime.model(self.options.autoencoder) if "ai_lens" in kinds else None
        small = shrink(pixels, self.options.max_side_px)  # the one resample of the full frame
        bounds = contrast(small)
        grey = grey_thumbnail(small, bounds)
        lens = self._lens(ctx, model, small, bounds, grey) if model is not None else None
        encoded: list[tuple[str, str, bytes, tuple[int, ...]]] = []
        if "thumbnail" in kinds:
            encoded.append(self._photo("thumbnail", grey))
        classified = ctx.shared.get(CLASSIFIER_KEY)
        if "cam" in kinds and classified is not None:
            index = classified.classes.index(classified.label)
            heat = cam_to_frame(classified.cams[index], classified.geometry, grey.shape)
            encoded.append(self._photo("cam", overlay(grey, heat, self.options.cam_alpha)))
        if lens is not None:
            encoded.append(("ai_lens", "png", encode_png(lens, self.options.png_compress_level, palette=LENS_PALETTE),
                            lens.shape))
        return self._write(ctx.output_dir, ctx.preview_stem, encoded)

    def _depths(self, model: Model) -> list[str]:
        names = model.encoder_outputs()
        if self.options.lens_depths is None:
            return names
        missing = [d for d in self.options.lens_depths if d > len(names)]
        if missing:
            raise ValueError(f"plugins.options.previews.lens_depths asks for depth {missing[0]} but model "
                             f"{model.name} has {len(names)} encoder outputs (enc1..enc{len(names)})")
        return [names[d - 1] for d in self.options.lens_depths]

    def _lens(self, ctx: AnalysisContext, model: Model, small: np.ndarray, bounds: tuple[float, float],
              grey: np.ndarray) -> np.ndarray:
        """The frame beside the autoencoder's most active channels at each chosen depth.

        The model's input is made from the shrunk copy and its contrast when that copy is at least
        the input's size (the usual case), so the full frame is not resampled a second time. When
        the encoder takes any size, the input is as large as the montage can show
        (``render.lens_size``), not the card's."""
        spec = model.card.input
        names = self._depths(model)
        size = (spec.height, spec.width)
        if self._encoder.takes_any_size(model, names):
            deepest = max(model.encoder_outputs().index(name) + 1 for name in names)  # halvings at most
            size = lens_size((grey.shape[0], grey.shape[1]), len(names), self.options.lens_channels,
                             self.options.max_side_px, 2 ** deepest, max(spec.height, spec.width))
        tensor = lens_input(small, bounds, spec, size) if small.shape[0] >= size[0] and small.shape[1] >= size[1] \
            else None
        if tensor is None:
            tensor, _ = model.prepare(ctx.page.pixels)
        out = self._encoder.infer(model, tensor, names)
        ctx.record_model(name=model.card.name, version=model.card.version, sha256=model.card.sha256)
        rows = []
        for name in names:
            act = out[name][0]
            if act.ndim != 3:  # a flat bottleneck has no picture to show
                continue
            step = max(1, min(act.shape[1:]) // 64)  # ranking channels needs no more than 64×64 samples
            activity = np.abs(act[:, ::step, ::step]).reshape(act.shape[0], -1).mean(axis=1)
            top = np.argsort(-_reproducible(activity), kind="stable")[: self.options.lens_channels]
            rows.append([act[i] for i in top])
        if not rows:
            raise ValueError(f"model {model.name} has no spatial encoder activations to show")
        return montage(grey, rows, self.options.max_side_px)

    def _photo(self, kind: str, image: np.ndarray) -> tuple[str, str, bytes, tuple[int, ...]]:
        if self.options.photo_format == "jpeg":
            return kind, "jpg", encode_jpeg(image, self.options.jpeg_quality), image.shape
        return kind, "png", encode_png(image, self.options.png_compress_level), image.shape

    @staticmethod
    def _write(folder: Path, stem: str, encoded: list[tuple[str, str, bytes, tuple[int, ...]]]) -> list[Preview]:
        """All of a frame's previews written and renamed, then one fsync of the folder: each file is
        complete and durable under its name before the sidecar that lists it is written."""
        names = [preview_name(stem, kind, suffix) for kind, suffix, _, _ in encoded]
        atomic_write_files(Path(folder), {name: data for name, (_, _, data, _) in zip(names, encoded, strict=True)})
        return [Preview(kind=kind, path=name, sha256=hashlib.sha256(data).hexdigest(), media_type=MEDIA[suffix],
                        width_px=shape[1], height_px=shape[0])
                for name, (kind, suffix, data, shape) in zip(names, encoded, strict=True)]


def _reproducible(activity: np.ndarray) -> np.ndarray:
    """Channel activity rounded to 1e-5 relative to the most active: which channels are shown does
    not flip between thread counts or batch sizes on last-bit differences (ties keep model order)."""
    peak = float(activity.max()) if activity.size else 0.0
    return np.round(activity / peak, 5) if peak > 0 else activity
