"""What the model cards say: inputs, outputs, provenance, numbers, and plain words on trust."""
from __future__ import annotations

from ..modelcard import InputSpec, OutputSpec
from ..sidecar import CLASSES
from .backbone import EMBED_DIM, NORM_MEAN, NORM_STD
from .scale import describe as describe_scale

__all__ = ["classifier_input", "classifier_card", "autoencoder_input", "autoencoder_card", "RETRAIN", "SPLIT_RULE"]

RETRAIN = "nanoaid train classifier /path/to/NFFA-dataset --out models/"
SPLIT_RULE = ("split fixed by the sha256 of each file's content: the first 15 % of the hash space is test, "
              "the next 15 % validation, the rest training (adding images never moves existing ones)")

SYNTHETIC_LIMITS = (
    f"A facility should retrain this model on the NFFA-Europe dataset or on its own labelled images, with one "
    f"command: `{RETRAIN}` (DATA laid out as one folder per class). "
    "{trained_on} The synthetic test "
    "accuracy measures how well the classes of the generator are separated, not accuracy on real frames: "
    "expect clearly lower accuracy on images from real instruments, especially for specimens the generator "
    "does not draw (biological tissue, composite devices, mixed scenes) and near class boundaries "
    "(Patterned_surface/MEMS, Nanowires/Fibres/Tips, Particles/Powder/Films). Confidence is calibrated on "
    "strongly perturbed validation views to stay cautious, but on real frames treat 'accepted' labels as "
    "suggestions until the model has been retrained or validated on your own labelled images: "
    "run `nanoaid models eval nffa-classifier YOUR_LABELLED_FOLDER` first. The alignment score was trained "
    "on synthetic aligned versus random nanowires; it grades ordering of thin wires and is meaningless for "
    "other structures."
)
SYNTHETIC_ONLY = ("Trained on synthetic SEM frames only (procedurally generated scenes rendered with SE/BSE contrast, "
                  "detector noise, scan distortion and databars); no real image was used for training.")
WITH_REAL = ("Trained on synthetic SEM frames (procedurally generated scenes rendered with SE/BSE contrast, detector "
             "noise, scan distortion and databars) and, in the final head only, {frames} real frames from {sources} "
             "public sources (the development set's openly licensed part: training.real_frames); figures on those "
             "sources' frames are not independent.")
REAL_LIMITS = (
    "Accuracy holds for images like the training folders; frames from other instruments, magnifications or "
    "specimen types may score lower. Check with `nanoaid models eval` on a labelled sample before relying on "
    "automatic labels."
)


def _limits(synthetic: bool, real: dict | None) -> str:
    if not synthetic:
        return REAL_LIMITS if not real else (
            f"{REAL_LIMITS} The final head also saw {real['frames']} real frames from {len(real['sources'])} public "
            "sources of the development set (training.real_frames); figures on those sources' frames are not "
            "independent.")
    said = WITH_REAL.format(frames=real["frames"], sources=len(real["sources"])) if real else SYNTHETIC_ONLY
    return SYNTHETIC_LIMITS.replace("{trained_on}", said)


def classifier_input(size: int) -> InputSpec:
    return InputSpec(height=size, width=size, channels=3, mean=[round(NORM_MEAN, 6)] * 3, std=[round(NORM_STD, 6)] * 3,
                     resize="stretch", databar="crop", intensity="percentile")


def autoencoder_input(size: int) -> InputSpec:
    return InputSpec(height=size, width=size, channels=1, mean=[0.0], std=[1.0], resize="stretch", databar="crop",
                     intensity="percentile")


def _classifier_outputs(hw: tuple[int, int]) -> list[OutputSpec]:
    h, w = hw
    k = len(CLASSES)
    return [
        OutputSpec(
            name="probs", shape=["N", k], description="class probabilities, temperature-calibrated, CLASSES order"
        ),
        OutputSpec(
            name="align_prob", shape=["N", 1], description="probability that thin wires in the frame are aligned"
        ),
        OutputSpec(name="embedding", shape=["N", EMBED_DIM], description="global-average-pooled features"),
        OutputSpec(name="features", shape=["N", EMBED_DIM, h, w], description="last convolutional feature map"),
        OutputSpec(
            name="cams", shape=["N", k, h, w], description="class activation maps sum_k w_ck A_k (before softmax)"
        ),
    ]


def classifier_card(opts, summary: dict, feat_hw: tuple[int, int]) -> dict:
    synthetic = getattr(opts, "data_kind", "") == "synthetic"
    test = summary.get("test") or {}
    metrics = {
        "test_split": test,
        "unseen_subtypes": summary.get("unseen_subtypes"),
        "validation_clean": summary["validation"],
        "alignment": summary["alignment"],
        "reproduce": getattr(opts, "reproduce", []),
    }
    if summary.get("test_with_scale"):
        metrics["test_split_with_scale"] = summary["test_with_scale"]
    if synthetic:
        metrics["note"] = "held-out SYNTHETIC test split; not an estimate of accuracy on real SEM frames"
    backbone = f"last {opts.finetune_blocks} blocks fine-tuned" if opts.finetune_blocks else "frozen"
    scale = getattr(opts, "scale", False)
    head_input = (f"the {EMBED_DIM}-d embedding plus the field-width features of the optional input "
                  "field_width_um (unknown width: the embedding alone)") if scale else f"the {EMBED_DIM}-d embedding"
    card: dict = {
        "name": opts.name,
        "version": opts.version,
        "task": "classifier",
        "classes": list(CLASSES),
        "input": classifier_input(opts.input_size).model_dump(),
        "outputs": [o.model_dump() for o in _classifier_outputs(feat_hw)],
        "thresholds": {"accept": 0.8, "review": 0.35},
        "calibration": {
            "method": "temperature",
            "temperature": round(summary["temperature"], 6),
            "fitted_on": summary["calibrated_on"],
            "temperature_if_fitted_on_clean_validation": round(summary["temperature_clean"], 6),
        },
        "architecture": (
            f"EfficientNet-Lite0 (ImageNet weights), {backbone}; "
            f"global average pooling; linear softmax head (10 classes) on {head_input}; logistic alignment head "
            f"on the {EMBED_DIM}-d embedding; CAMs from the softmax head's embedding weights"
        ),
        "training": {
            "data": list(opts.data_notes) or [str(d) for d in opts.data],
            "images_per_split": summary["splits"],
            "images_per_class": summary["per_class_images"],
            "split_rule": SPLIT_RULE,
            "views": {"train_augmented_per_image": opts.views, "validation_perturbed_per_image": opts.heavy_views},
            "databar": "found by its flat background and cut before training; kept on 15 % of augmented views",
            "class_weighting": "inverse class frequency",
            "head_l2": summary["l2"],
            "seed": opts.seed,
            "threads": opts.threads,
            "duration_s": summary["duration_s"],
            "command": opts.command,
            "fine_tuning": summary.get("finetune"),
            "real_frames": summary.get("real_frames"),
            "scale_dropout": ("every training and calibration view enters twice: with its field width (synthetic "
                              "truth × the crop's share) and with the width hidden") if scale else None,
        },
        "metrics": metrics,
        "license": "Apache-2.0",
        "intended_use": (
            "Sorting SEM frames into the 10 NFFA-Europe morphology classes as they are saved, with the decision "
            "policy of Modarres et al. (2017): top score >= 0.8 accept, 0.35-0.8 suggest the top two, below 0.35 "
            "ask the operator; a learned nanowire-alignment score; class activation maps for previews."
        ),
        "limitations": _limits(synthetic, summary.get("real_frames")),
        "retrain": RETRAIN,
    }
    if scale:
        card["scale_input"] = describe_scale()
    return card


def autoencoder_card(opts, summary: dict, channels) -> dict:
    size = opts.input_size
    outputs = [
        {"name": "reconstruction", "shape": ["N", 1, size, size], "description": "reconstructed image in [0, 1]"}
    ]
    for k, c in enumerate(channels):
        s = size // (2**k)
        outputs.append(
            {
                "name": f"enc{k + 1}",
                "shape": ["N", c, s, s],
                "description": f"encoder activation at depth {k + 1} (ReLU), for the AI-lens preview",
            }
        )
    return {
        "name": opts.name,
        "version": opts.version,
        "task": "autoencoder",
        "input": autoencoder_input(size).model_dump(),
        "outputs": outputs,
        "architecture": f"convolutional autoencoder, encoder channels {list(channels)} with 2x2 max-pooling, "
        "nearest-neighbour upsampling decoder, trained on MSE",
        "training": {
            "data": list(opts.data_notes) or [str(d) for d in opts.data],
            "patches": summary["patches"],
            "patch_px": min(opts.patch, size),
            "epochs": opts.epochs,
            "seed": opts.seed,
            "threads": opts.threads,
            "duration_s": summary["duration_s"],
            "command": opts.command,
        },
        "metrics": summary["metrics"],
        "license": "Apache-2.0",
        "intended_use": "AI-lens previews (Rajagopal et al.): the encoder activations of an SEM frame at each depth.",
        "limitations": (
            "A visualisation aid, not a measurement: activations show what the network reconstructs from "
            "(edges, textures, larger structures), trained on "
            + (
                "synthetic SEM frames only."
                if getattr(opts, "data_kind", "") == "synthetic"
                else "the folders named above."
            )
        ),
        "retrain": "nanoaid train autoencoder /path/to/SEM-images --out models/",
    }
