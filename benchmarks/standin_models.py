"""Stand-in models for benchmarking when the shipped ``models/`` are not present.

They have the shipped models' contract and, as far as cost goes, their likely shape: an
EfficientNet-lite0 classifier at 224×224 with the CAM head computed in the graph, and a
four-level convolutional autoencoder at 256×256. Weights are random (cost does not depend on
them), so their scores mean nothing. Needs the ``train`` extra (torch, onnx).
"""
from __future__ import annotations

import json
from pathlib import Path

from nanoaid_daemon.modelcard import ModelCard, file_sha256
from nanoaid_daemon.sidecar import CLASSES

__all__ = ["build_standins"]

OPSET = 17


def _classifier():
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = EfficientNet.from_name("efficientnet-lite0")
            self.head = torch.nn.Linear(1280, len(CLASSES))
            self.align = torch.nn.Linear(1280, 1)

        def forward(self, image):
            features = self.backbone.extract_features(image)
            embedding = features.mean(dim=(2, 3))
            probs = torch.softmax(self.head(embedding) / 1.5, dim=1)
            cams = torch.einsum("ck,nkhw->nchw", self.head.weight, features)
            return probs, torch.sigmoid(self.align(embedding)), embedding, features, cams

    return Classifier().eval(), ["probs", "align_prob", "embedding", "features", "cams"]


def _autoencoder(widths=(16, 32, 64, 128)):
    from torch import nn

    class Autoencoder(nn.Module):
        def __init__(self):
            super().__init__()
            chans = (1, *widths)
            self.enc = nn.ModuleList(
                nn.Sequential(nn.Conv2d(chans[i], chans[i + 1], 3, 2, 1), nn.ReLU()) for i in range(len(widths)))
            self.dec = nn.Sequential(*[
                layer for i in reversed(range(len(widths)))
                for layer in (nn.ConvTranspose2d(chans[i + 1], max(chans[i], 8), 2, 2), nn.ReLU())
            ][:-1], nn.Conv2d(8, 1, 1))

        def forward(self, image):
            acts, x = [], image
            for block in self.enc:
                x = block(x)
                acts.append(x)
            return (self.dec(x), *acts)

    return Autoencoder().eval(), ["reconstruction"] + [f"enc{i + 1}" for i in range(len(widths))]


def _export(module, names, size, channels, path: Path) -> None:
    import torch

    torch.manual_seed(0)
    dummy = torch.zeros(1, channels, size, size)
    torch.onnx.export(module, (dummy,), str(path), input_names=["image"], output_names=names,
                      dynamic_axes={n: {0: "N"} for n in ["image", *names]}, opset_version=OPSET, dynamo=False)


def _card(path: Path, name: str, task: str, size: int, channels: int, outputs: list[str]) -> None:
    mean, std = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]) if channels == 3 else ([0.5], [0.25])
    card = ModelCard(
        name=name, version="0.0.0-standin", task=task, file=path.name, sha256=file_sha256(path),
        size_bytes=path.stat().st_size, opset=OPSET, classes=list(CLASSES) if task == "classifier" else [],
        input={"height": size, "width": size, "channels": channels, "mean": mean, "std": std},
        outputs=[{"name": n, "shape": ["N"]} for n in outputs], license="CC0-1.0",
        intended_use="benchmark stand-in only: random weights",
    )
    path.with_name(f"{name}.card.json").write_text(json.dumps(card.model_dump(mode="json"), indent=2))


def build_standins(folder: Path) -> Path:
    """Write ``nffa-classifier`` and ``sem-autoencoder`` stand-ins (ONNX + card) into ``folder``."""
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for name, task, (module, outputs), size, channels in (
        ("nffa-classifier", "classifier", _classifier(), 224, 3),
        ("sem-autoencoder", "autoencoder", _autoencoder(), 256, 1),
    ):
        path = folder / f"{name}.onnx"
        _export(module, outputs, size, channels, path)
        _card(path, name, task, size, channels, outputs)
    return folder
