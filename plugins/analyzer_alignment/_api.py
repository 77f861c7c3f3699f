"""Alignment analyzer: structure-tensor measures on every frame, plus the learned score when present."""
from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nanoaid_daemon.errors import ConfigError
from nanoaid_daemon.inference import CLASSIFIER_KEY
from nanoaid_daemon.plugins import AnalysisContext, PluginContext
from nanoaid_daemon.sidecar import Alignment, Histogram

from .gradients import DESCRIPTION, GradientKind
from .tensor import measure

__all__ = ["AlignmentOptions", "AlignmentAnalyzer", "create"]


class AlignmentOptions(BaseModel):
    """``[plugins.options.alignment]``."""

    model_config = ConfigDict(extra="forbid")

    gradient: GradientKind = Field(
        "spline", description="Gradient kernel: 'spline' (OrientationJ's cubic B-spline, its default), "
        "'finite-difference' (OrientationJ's other option) or 'scharr' (this project's kernel before 1.1).")
    sigma_px: float = Field(2.0, ge=0.5, le=64, description="Standard deviation of the Gaussian local window, pixels.")
    bin_width_deg: float = Field(5.0, gt=0, le=90, description="Orientation histogram bin width; must divide 180.")
    aligned_within_deg: float = Field(
        15.0, gt=0, le=90, description="Aligned fraction: energy within ± this of the dominant orientation.")
    meaningful_for: list[str] = Field(
        default_factory=lambda: ["Nanowires", "Fibres"], description="Labels for which alignment is flagged meaningful."
    )

    @field_validator("bin_width_deg")
    @classmethod
    def _divides_180(cls, v: float) -> float:
        bins = 180.0 / v
        if not math.isclose(bins, round(bins), rel_tol=0, abs_tol=1e-9):
            raise ValueError(f"bin width {v} does not divide 180 degrees")
        return v


def create(ctx: PluginContext) -> AlignmentAnalyzer:
    try:
        options = AlignmentOptions.model_validate(ctx.options)
    except ValidationError as exc:
        raise ConfigError(f"plugins.options.{ctx.manifest.name}: {exc.errors()[0]['msg']} "
                          f"at {'.'.join(map(str, exc.errors()[0]['loc']))}") from None
    return AlignmentAnalyzer(options)


class AlignmentAnalyzer:
    def __init__(self, options: AlignmentOptions):
        self.options = options

    def method(self, block_px: int, has_structure: bool, decimation: int = 1, shape: tuple[int, ...] = ()) -> dict:
        o = self.options
        method = {
            "name": "structure_tensor",
            "reference": "OrientationJ (Rezakhaniha et al. 2012; Püspöki et al. 2016)",
            "window": "gaussian",
            "sigma_px": o.sigma_px,
            "block_px": block_px,
            "gradient": o.gradient,
            "gradient_kernel": DESCRIPTION[o.gradient],
            "coherency": "global (OrientationJ Dominant Direction): sqrt((Jyy-Jxx)^2+4Jxy^2)/(Jxx+Jyy) of the "
                         "tensor averaged over the interior pixels (one-pixel border left out)",
            "orientation": "0 deg = image x-axis, counter-clockwise as displayed, range [-90, 90)",
            "histogram": "local orientations weighted by local energy (tensor trace)",
            "aligned_within_deg": o.aligned_within_deg,
            "learned_score": "classifier align_prob",
        }
        if not has_structure:
            method["note"] = "no structure energy (flat frame): all measures are 0"
        if decimation > 1:  # a large frame is analysed block-averaged; sigma_px / block_px count its pixels
            method["decimation"] = {
                "factor": decimation,
                "analysed_px": list(shape),
                "note": f"measured on the frame block-averaged {decimation}x{decimation} while it was read; "
                        "sigma_px and block_px are in analysed (decimated) pixels",
            }
        return method

    def analyze(self, ctx: AnalysisContext) -> Alignment:
        o = self.options
        result = measure(ctx.page.pixels, o.sigma_px, o.bin_width_deg, o.aligned_within_deg, o.gradient)
        classified = ctx.shared.get(CLASSIFIER_KEY)
        learned = None if classified is None else round(float(classified.align_prob), 6)
        meaningful = True if classified is None else classified.label in o.meaningful_for
        orientation = round(result.orientation_deg, 3)
        return Alignment(
            coherency=round(result.coherency, 6),
            orientation_deg=orientation - 180.0 if orientation >= 90.0 else orientation,
            aligned_fraction=round(result.aligned_fraction, 6),
            histogram=Histogram(bin_width_deg=result.bin_width_deg, start_deg=result.start_deg,
                                counts=[round(c, 6) for c in result.counts]),
            learned_score=learned,
            method=self.method(result.block_px, result.has_structure, ctx.page.decimation, ctx.page.pixels.shape),
            meaningful=meaningful,
        )
