"""The convolutional autoencoder behind the "AI lens" previews (Rajagopal et al., NanoAID).

Encoder: at each depth a 3×3 convolution + ReLU (the activation shown as ``enc<k>``) followed by
2×2 max-pooling; decoder: nearest-neighbour upsampling + 3×3 convolutions back to one channel.
Trained to reconstruct SEM images (pixel-wise MSE), its encoder activations show how the image
decomposes into edges, textures and larger structures. Fully convolutional, so it is trained on
random 64-px patches of frames resized to the 256-px input, and runs on the whole 256-px frame.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ConvAutoencoder", "train_autoencoder_patches", "patches_from_units"]


class ConvAutoencoder(nn.Module):
    def __init__(self, channels=(16, 32, 48, 64)):
        super().__init__()
        self.channels = tuple(channels)
        ins = (1,) + self.channels[:-1]
        self.enc = nn.ModuleList(nn.Conv2d(i, o, 3, padding=1) for i, o in zip(ins, self.channels, strict=True))
        outs = tuple(reversed(ins))
        self.dec = nn.ModuleList(nn.Conv2d(i, o, 3, padding=1)
                                 for i, o in zip(reversed(self.channels), outs, strict=True))
        self.refine = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, image: torch.Tensor):
        activations = []
        x = image
        for k, conv in enumerate(self.enc):
            x = F.relu(conv(x))
            activations.append(x)
            if k < len(self.enc) - 1:
                x = F.max_pool2d(x, 2)
        for k, conv in enumerate(self.dec):
            x = conv(x)
            if k < len(self.dec) - 1:
                x = F.relu(x)
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        reconstruction = torch.sigmoid(self.refine(x) + x)
        return (reconstruction, *activations)

    @property
    def output_names(self) -> list[str]:
        return ["reconstruction"] + [f"enc{k + 1}" for k in range(len(self.channels))]


def patches_from_units(rng: np.random.Generator, units: list[np.ndarray], per_image: int, patch: int) -> np.ndarray:
    """Random square patches (with flips) from [0, 1] frames: the autoencoder's training set."""
    out = []
    for unit in units:
        rows, cols = unit.shape
        for _ in range(per_image):
            r, c = int(rng.integers(0, rows - patch + 1)), int(rng.integers(0, cols - patch + 1))
            p = unit[r : r + patch, c : c + patch]
            if rng.random() < 0.5:
                p = p[:, ::-1]
            if rng.random() < 0.5:
                p = p[::-1]
            out.append(np.ascontiguousarray(p))
    return np.stack(out).astype(np.float32)[:, None]


def train_autoencoder_patches(model: ConvAutoencoder, train: np.ndarray, val: np.ndarray, *, epochs: int,
                              batch: int = 16, lr: float = 2e-3, seed: int = 0, progress=None) -> dict:
    """Adam on MSE with a cosine learning-rate decay; returns train/validation MSE and PSNR."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = max(1, epochs * math.ceil(len(train) / batch))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    data = torch.from_numpy(train)
    model.train()
    last = float("nan")
    for epoch in range(epochs):
        order = torch.randperm(len(data), generator=gen)
        total = 0.0
        for i in range(0, len(data), batch):
            x = data[order[i : i + batch]]
            loss = F.mse_loss(model(x)[0], x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(x)
        last = total / len(data)
        if progress:
            progress(epoch + 1, epochs, last)
    model.eval()
    with torch.no_grad():
        val_t = torch.from_numpy(val)
        chunks = [val_t[i : i + 32] for i in range(0, len(val_t), 32)]
        val_mse = float(np.mean([float(F.mse_loss(model(chunk)[0], chunk)) for chunk in chunks]))
    return {"train_mse": round(last, 6), "val_mse": round(val_mse, 6),
            "val_psnr_db": round(10 * math.log10(1.0 / max(val_mse, 1e-12)), 2)}
