"""Model cards: the JSON beside each ONNX model in ``models/`` that says what it is and how to feed it.

The card drives preprocessing at inference time (size, channels, normalisation, databar handling)
and the decision thresholds, and pins the model file by sha256 so a flipped byte is caught.

Output names the runtime relies on:

* classifier (``task == "classifier"``): input ``image`` float32 [N, C, H, W]; outputs
  ``probs`` [N, 10] calibrated class probabilities (temperature already applied), ``align_prob``
  [N, 1] probability that the structure is aligned, ``embedding`` [N, D] pooled features,
  ``features`` [N, K, h, w] the last convolutional feature map, and ``cams`` [N, 10, h, w] the class
  activation maps CAM_c = Σ_k w_k^c A_k computed in the graph from ``features`` and the head's
  weights (no gradients needed).
* autoencoder (``task == "autoencoder"``): input ``image`` float32 [N, 1, H, W]; outputs
  ``reconstruction`` [N, 1, H, W] and ``enc1`` … ``encK`` encoder activations at each depth.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ModelUnavailable
from .states import ACCEPT_THRESHOLD, REVIEW_THRESHOLD

__all__ = ["InputSpec", "OutputSpec", "ModelCard", "file_sha256", "load_card", "verify_model", "find_cards"]


class InputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "image"
    height: int = Field(ge=8)
    width: int = Field(ge=8)
    channels: Literal[1, 3]
    mean: list[float] = Field(description="Per-channel mean subtracted after scaling grey values to [0, 1].")
    std: list[float] = Field(description="Per-channel std divided by after subtracting the mean.")
    resize: Literal["stretch", "center_crop", "letterbox"] = "stretch"
    databar: Literal["crop", "keep"] = Field("crop", description="crop: the reader's databar rows are removed first.")
    intensity: Literal["minmax", "percentile", "dtype"] = Field(
        "percentile", description="How grey values map to [0, 1]: robust 0.5/99.5 percentiles by default."
    )


class ScaleInputSpec(BaseModel):
    """A classifier's optional second input: each view's horizontal field width (NaN = unknown)."""

    model_config = ConfigDict(extra="forbid")
    name: str = "field_width_um"
    shape: list[int | str] = Field(default_factory=lambda: list[int | str](["N", 1]))
    unit: Literal["µm"] = "µm"
    meaning: str = ""
    encoding: str = ""


class OutputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    shape: list[int | str] = Field(description="Dimensions; strings name dynamic axes such as 'N'.")
    description: str = ""


class ModelCard(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    version: str
    task: Literal["classifier", "autoencoder"]
    file: str = Field(description="ONNX file name, beside the card.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=1)
    opset: int = Field(ge=17)
    classes: list[str] = Field(default_factory=list)
    input: InputSpec
    scale_input: ScaleInputSpec | None = Field(
        None, description="Optional second input: the field width of each view; absent = the model ignores scale.")
    outputs: list[OutputSpec]
    thresholds: dict[str, float] = Field(
        default_factory=lambda: {"accept": ACCEPT_THRESHOLD, "review": REVIEW_THRESHOLD})
    calibration: dict[str, Any] = Field(
        default_factory=dict, description="e.g. {'method': 'temperature', 'temperature': 1.7}")
    architecture: str = ""
    training: dict[str, Any] = Field(default_factory=dict, description="Data, counts, split rule, seed, command.")
    metrics: dict[str, Any] = Field(default_factory=dict)
    license: str = Field(description="Licence of the weights (SPDX id).")
    intended_use: str = ""
    limitations: str = ""
    retrain: str = Field("", description="The one command that retrains it on a facility's own labelled folders.")


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def load_card(card_path: Path) -> ModelCard:
    try:
        return ModelCard.model_validate(json.loads(Path(card_path).read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise ModelUnavailable(f"model card {card_path} does not exist") from exc
    except (ValueError, ValidationError) as exc:
        raise ModelUnavailable(f"model card {card_path} is not valid: {exc}") from exc


def verify_model(card_path: Path) -> tuple[ModelCard, Path]:
    """The card and its model file, after checking the file's sha256 against the card."""
    card = load_card(card_path)
    model_path = Path(card_path).with_name(card.file)
    if not model_path.is_file():
        raise ModelUnavailable(f"model file {model_path} named by {card_path} is missing")
    actual = file_sha256(model_path)
    if actual != card.sha256:
        raise ModelUnavailable(
            f"model file {model_path} does not match its card (sha256 {actual[:12]}…, card says {card.sha256[:12]}…); "
            "it is corrupt or was replaced: restore it or rebuild the models"
        )
    return card, model_path


def find_cards(models_dir: Path) -> list[Path]:
    return sorted(Path(models_dir).glob("*.card.json"))
