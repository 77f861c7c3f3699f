"""Classification analyzer: one batched classifier run per frame, all views at once."""
from __future__ import annotations

import logging
import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nanoaid_daemon.errors import ConfigError, ModelUnavailable
from nanoaid_daemon.inference import CLASSIFIER_KEY, ClassifierOutput, Model, Runtime
from nanoaid_daemon.plugins import AnalysisContext, PluginContext
from nanoaid_daemon.sidecar import CLASSES, Classification, ModelRef, Thresholds

from .decision import decide, decide_calibrated, plan_views, rounded_scores

__all__ = ["ClassifyOptions", "Classifier", "create"]

log = logging.getLogger(__name__)
OUTPUTS = ("probs", "align_prob", "cams")


class ClassifyOptions(BaseModel):
    """``[plugins.options.classify]``; thresholds live in ``[models]`` and the model card."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field("nffa-classifier", description="Model card name in the models folder.")
    views: Literal["auto", "full", "tiles"] = Field(
        "auto",
        description="'full': the whole frame only; 'tiles': plus its four quadrants; 'auto': tiles on large frames.",
    )
    tile_min_side_px: int = Field(1536, ge=16,
                                  description="'auto' adds quadrant views when the shorter side reaches this.")
    accept_unvouched: bool = Field(
        False, description="Let a model without a vouching calibration (out-of-distribution gate and conformal sets, "
        "as `nanoaid models adapt` writes) accept by the paper's rule alone; set it only for a model trained on this "
        "facility's own real frames.")


def create(ctx: PluginContext) -> Classifier:
    try:
        options = ClassifyOptions.model_validate(ctx.options)
    except ValidationError as exc:
        raise ConfigError(f"plugins.options.{ctx.manifest.name}: {exc.errors()[0]['msg']} "
                          f"at {'.'.join(map(str, exc.errors()[0]['loc']))}") from None
    return Classifier(options, Runtime.for_plugin(ctx))


class Classifier:
    def __init__(self, options: ClassifyOptions, runtime: Runtime):
        self.options, self.runtime = options, runtime
        try:  # load and warm up now, so the first frame does not pay for it
            runtime.model(options.model)
        except ModelUnavailable as exc:
            log.error("classification will report model_unavailable until this is fixed: %s", exc)

    def analyze(self, ctx: AnalysisContext) -> Classification:
        model = self.runtime.model(self.options.model)
        accept, review = self.runtime.thresholds(model.card)
        views, how = plan_views(ctx.page.pixels, self.options.views, self.options.tile_min_side_px)
        prepared = [model.prepare(view) for view in views]
        trust = model.card.calibration if "ood_score" in model.output_names else {}
        wanted = OUTPUTS + ("ood_score",) if trust else OUTPUTS
        widths = view_field_widths(frame_field_width_um(ctx), ctx.page.pixels.shape[1], views)
        out = model.infer(np.stack([tensor for tensor, _ in prepared]), wanted, field_width_um=widths)
        ctx.record_model(name=model.card.name, version=model.card.version, sha256=model.card.sha256)
        classes = _classes(model, out["probs"].shape[1])
        probs = out["probs"].astype(np.float64).mean(axis=0)
        scores = rounded_scores(probs, classes)
        extra: dict = {}
        if trust and "conformal" in trust and "ood" in trust:
            ood = round(float(out["ood_score"].astype(np.float64).mean()), 4)
            counts = model.card.training.get("support", {}).get("counts", {})
            label, score, decision, suggestions, pset = decide_calibrated(scores, accept, review, ood, trust, counts)
            limit = float(trust["ood"]["threshold"])
            extra = {"ood_score": ood, "ood_threshold": round(limit, 4), "prediction_set": pset}
        else:
            # An unvouched model never applies a label: its confident answers go to review, offered first.
            applies = accept if self.options.accept_unvouched else math.inf
            label, score, decision, suggestions = decide(scores, applies, review)
        align = float(np.clip(out["align_prob"].astype(np.float64).mean(), 0.0, 1.0))
        ctx.shared[CLASSIFIER_KEY] = ClassifierOutput(
            model=model.name, classes=classes, probs=probs, align_prob=align, label=label,
            cams=out["cams"][0], geometry=prepared[0][1], views=how,
        )
        return Classification(
            model=ModelRef(name=model.card.name, version=model.card.version, sha256=model.card.sha256),
            scores=scores, label=label, score=score, decision=decision, suggestions=suggestions,
            thresholds=Thresholds(accept=accept, review=review), views=how, **extra,
        )


def frame_field_width_um(ctx: AnalysisContext) -> float | None:
    """The analysed frame's horizontal field width (µm) from its metadata, or None when unknown.

    The vendor's field width when it gives one, else pixel size × stored width.
    """
    page = ctx.page
    inst = page.instrument
    width = inst.horizontal_field_width.value if inst.horizontal_field_width is not None else None
    if width is None and inst.pixel_size is not None:
        width = inst.pixel_size.x.value * page.stored_width_px / 1000.0
    return float(width) if width is not None and math.isfinite(width) and width > 0 else None


def view_field_widths(frame_width: float | None, frame_cols: int, views: list[np.ndarray]) -> list[float | None]:
    """Each view's field width: a tile's is its share of the frame's columns."""
    if frame_width is None:
        return [None] * len(views)
    return [frame_width * view.shape[1] / frame_cols for view in views]


def _classes(model: Model, n_scores: int) -> tuple[str, ...]:
    classes = tuple(model.card.classes) or CLASSES
    if len(classes) != n_scores:
        raise ModelUnavailable(f"model file {model.path} gives {n_scores} scores but its card lists "
                               f"{len(classes)} classes; the card and the model do not belong together")
    return classes
