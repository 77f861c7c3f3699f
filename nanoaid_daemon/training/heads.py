"""The retrained last layers: a linear softmax head, a logistic alignment head, temperature scaling.

Both heads are linear on the pooled embedding, which is what lets the ONNX graph compute class
activation maps without gradients (CAM_c = Σ_k w_ck A_k). They are fitted full-batch with L-BFGS
on standardised features (deterministic, seconds on a CPU); the standardisation is folded back
into the weights before export. Classes are weighted by inverse frequency so a rare class is not
traded away for a common one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["LinearHead", "fit_softmax", "fit_logistic", "fit_temperature", "softmax_nll", "class_weights"]


@dataclass
class LinearHead:
    """y = x·Wᵀ + b on raw (unstandardised) embeddings."""

    weight: np.ndarray  # [out, D]
    bias: np.ndarray  # [out]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight.T + self.bias


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = x.mean(axis=0)
    sd = np.maximum(x.std(axis=0), 1e-3)
    return mu.astype(np.float32), sd.astype(np.float32)


def _fold(w: torch.Tensor, b: torch.Tensor, mu: np.ndarray, sd: np.ndarray) -> LinearHead:
    w_raw = w.detach().numpy() / sd[None, :]
    return LinearHead(w_raw.astype(np.float32), (b.detach().numpy() - w_raw @ mu).astype(np.float32))


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0)
    return w.astype(np.float32)


def _lbfgs(params, closure, iters: int) -> None:
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=iters, history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-6, tolerance_change=1e-9)
    opt.step(closure)


def fit_softmax(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float, iters: int = 300) -> LinearHead:
    """Class-weighted multinomial logistic regression with an L2 penalty on the weights."""
    mu, sd = _standardise(x)
    xt = torch.from_numpy((x - mu) / sd)
    yt = torch.from_numpy(y.astype(np.int64))
    cw = torch.from_numpy(class_weights(y, n_classes))
    w = torch.zeros(n_classes, x.shape[1], requires_grad=True)
    b = torch.zeros(n_classes, requires_grad=True)

    def closure():
        w.grad = b.grad = None
        loss = F.cross_entropy(xt @ w.T + b, yt, weight=cw) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    _lbfgs([w, b], closure, iters)
    return _fold(w, b, mu, sd)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, iters: int = 200) -> LinearHead:
    """Balanced binary logistic regression (aligned = 1)."""
    mu, sd = _standardise(x)
    xt = torch.from_numpy((x - mu) / sd)
    yt = torch.from_numpy(y.astype(np.float32))
    pos = float(yt.mean().clamp(1e-3, 1 - 1e-3))
    weight = torch.where(yt > 0.5, torch.tensor(0.5 / pos), torch.tensor(0.5 / (1 - pos)))
    w = torch.zeros(1, x.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)

    def closure():
        w.grad = b.grad = None
        logit = (xt @ w.T + b)[:, 0]
        loss = F.binary_cross_entropy_with_logits(logit, yt, weight=weight) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    _lbfgs([w, b], closure, iters)
    return _fold(w, b, mu, sd)


def softmax_nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray, lo: float = 0.05, hi: float = 50.0) -> float:
    """The T > 0 minimising the NLL of softmax(logits / T): golden-section search on log T."""
    a, b = math.log(lo), math.log(hi)
    g = (math.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = softmax_nll(logits, y, math.exp(c)), softmax_nll(logits, y, math.exp(d))
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = softmax_nll(logits, y, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = softmax_nll(logits, y, math.exp(d))
    return float(math.exp((a + b) / 2))
