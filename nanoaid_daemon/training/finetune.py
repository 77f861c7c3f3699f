"""Optional fine-tuning of the last blocks (``--finetune-blocks N``), on cached trunk activations.

The trunk up to block 16 − N stays frozen and runs once per view (its activations are cached
as float16); the last N blocks and the head convolution are trained together with a temporary
linear head. Afterwards the embeddings of every view are recomputed with the tuned tail and the
ordinary linear heads are fitted on them. Useful with thousands of real labelled images; on
synthetic data alone it mostly teaches the network the generator's look, so the shipped model
does not use it.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..sidecar import CLASSES
from .backbone import EMBED_DIM, Tail
from .features import FeatureSet
from .heads import class_weights

__all__ = ["finetune_tail"]


def _embed(tail: Tail, maps: np.ndarray, batch: int = 128) -> np.ndarray:
    out = []
    with torch.no_grad():
        for i in range(0, len(maps), batch):
            out.append(tail(torch.from_numpy(maps[i : i + batch]).float()).mean(dim=(2, 3)).numpy())
    return np.concatenate(out)


def finetune_tail(model, cut: int, feats: FeatureSet, y_all: np.ndarray, train_rows: np.ndarray, val_rows: np.ndarray,
                  opts) -> tuple[FeatureSet, dict]:
    tail = Tail(model, cut)
    for p in tail.parameters():
        p.requires_grad_(True)
    head = nn.Linear(EMBED_DIM, len(CLASSES))
    gen = torch.Generator().manual_seed(opts.seed)
    with torch.no_grad():  # small random weights: a zero head would pass no gradient to the tail at first
        head.weight.normal_(0.0, 0.01, generator=gen)
        head.bias.zero_()
    opt = torch.optim.AdamW([{"params": tail.parameters(), "lr": 1e-4}, {"params": head.parameters(), "lr": 1e-3}],
                            weight_decay=1e-4)
    weight = torch.from_numpy(class_weights(y_all[train_rows], len(CLASSES)))
    history = []
    for epoch in range(opts.finetune_epochs):
        tail.train()
        order = train_rows[torch.randperm(len(train_rows), generator=gen).numpy()]
        for i in range(0, len(order), 64):
            rows = order[i : i + 64]
            x = torch.from_numpy(feats.x[rows]).float()
            loss = F.cross_entropy(head(tail(x).mean(dim=(2, 3))), torch.from_numpy(y_all[rows]), weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
        tail.eval()
        with torch.no_grad():
            pred = head(torch.from_numpy(_embed(tail, feats.x[val_rows]))).argmax(1).numpy()
        history.append(round(float(np.mean(pred == y_all[val_rows])), 4))
        opts.say(f"fine-tuning epoch {epoch + 1}/{opts.finetune_epochs}: validation accuracy {history[-1]:.3f}")
    for p in tail.parameters():
        p.requires_grad_(False)
    model.eval()
    embedded = FeatureSet(_embed(tail, feats.x), feats.source, feats.kind, feats.width)
    return embedded, {"blocks": opts.finetune_blocks, "epochs": opts.finetune_epochs, "val_accuracy_by_epoch": history}
