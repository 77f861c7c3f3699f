"""A classifier head fitted in numpy on the frozen 1,280-d embedding, and how far a frame lies from it.

Why this shape:

* Embeddings are L2-normalised and scaled by sqrt(D) before the head (``unit``), so one L2
  strength suits any number of support frames and the ONNX graph repeats it with three ops.
* The head is a multinomial logistic regression over the classes that have support, fitted by
  Nesterov-accelerated gradient descent with a fixed step from the Lipschitz bound: deterministic
  (no random start, no mini-batches) and fast enough for 2,000 views in seconds on one core.
* A class without support keeps the shipped model's opinion: its probability is the base model's,
  and the head shares out the rest (``mix_with_base``). The base decides "is it one of the classes
  nobody has labelled yet?", the facility's labels decide among the ones they have.
* Distance: Mahalanobis to the nearest class mean under a shrunk pooled covariance, kept as
  rank-r eigenvectors plus an isotropic floor, so the graph needs no 1280x1280 matrix.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Head", "Distance", "unit", "fit_head", "fit_distance", "mix_with_base", "softmax"]

NEG = -1.0e4  # logit given to classes without support (exp underflows to 0 in float32)


def unit(emb: np.ndarray) -> np.ndarray:
    """Embeddings → L2-normalised and scaled to sqrt(D), float64."""
    emb = np.asarray(emb, dtype=np.float64)
    norm = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.maximum(norm, 1e-12) * np.sqrt(emb.shape[1])


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class Head:
    """logits = unit(z) @ weight.T + bias, already divided by the temperature."""

    weight: np.ndarray  # [C, D]
    bias: np.ndarray  # [C]; NEG for classes without support
    supported: np.ndarray  # [C] bool

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight.T + self.bias

    def scaled(self, temperature: float) -> Head:
        bias = np.where(self.supported, self.bias / temperature, NEG)
        return Head(self.weight / temperature, bias, self.supported.copy())


def fit_head(x: np.ndarray, y: np.ndarray, n_classes: int, *, l2: float = 1e-3, iters: int = 300,
             weights: np.ndarray | None = None) -> Head:
    """Class-balanced multinomial logistic regression on the classes present in ``y``.

    ``x`` is already ``unit``-scaled. Each class weighs the same in the loss whatever its count,
    so a class with one labelled frame is not drowned by one with forty.
    """
    present = np.zeros(n_classes, bool)
    present[np.unique(y)] = True
    cls = np.flatnonzero(present)
    index = {int(c): i for i, c in enumerate(cls)}
    yi = np.array([index[int(c)] for c in y])
    counts = np.bincount(yi, minlength=len(cls)).astype(np.float64)
    w = (1.0 / counts[yi]) / len(cls)
    if weights is not None:
        w = w * weights / np.mean(weights)
    onehot = np.eye(len(cls))[yi]
    weight, bias = np.zeros((len(cls), x.shape[1])), np.zeros(len(cls))
    if len(cls) > 1:
        weight, bias = _descend(x, onehot, w, l2, iters)
    full_w = np.zeros((n_classes, x.shape[1]))
    full_b = np.full(n_classes, NEG)
    full_w[cls], full_b[cls] = weight, bias
    return Head(full_w, full_b, present)


def _descend(x: np.ndarray, onehot: np.ndarray, w: np.ndarray, l2: float, iters: int) -> tuple[np.ndarray, np.ndarray]:
    """Nesterov gradient descent on the weighted cross-entropy + l2/2·|W|², step 1/L.

    Run in the span of the samples (W = Xᵀ·A, representer theorem): the iterates are exactly those of
    descent on W, but each step is one n×n by n×C product instead of two n×D ones, which matters
    with a few hundred views of 1,280 dimensions.
    """
    gram = x @ x.T
    sw = np.sqrt(w)
    spectral = _top_eigenvalue_sym((gram + 1.0) * sw[:, None] * sw[None, :])  # of [X 1]ᵀ diag(w) [X 1]
    step = 1.0 / (0.5 * spectral + l2)
    a = np.zeros_like(onehot)
    b = np.zeros(onehot.shape[1])
    prev_a, prev_b = a.copy(), b.copy()
    for k in range(1, iters + 1):
        m = (k - 1) / (k + 2)
        la, lb = a + m * (a - prev_a), b + m * (b - prev_b)
        g = (softmax(gram @ la + lb) - onehot) * w[:, None]
        prev_a, prev_b = a, b
        a, b = la - step * (g + l2 * la), lb - step * g.sum(axis=0)
    return (x.T @ a).T.copy(), b.copy()


def _top_eigenvalue_sym(m: np.ndarray, iters: int = 40) -> float:
    """Largest eigenvalue of a symmetric PSD matrix by power iteration (fixed start), 5 % headroom."""
    v = np.ones(m.shape[0]) / np.sqrt(m.shape[0])
    value = 0.0
    for _ in range(iters):
        u = m @ v
        value = float(np.linalg.norm(u))
        if value == 0.0:
            return 1.0
        v = u / value
    return 1.05 * value


def _top_components(a: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """(singular values, right singular vectors [rank, D]) by a seeded randomised range finder.

    A full SVD of a 1200 × 1280 matrix costs seconds on a busy instrument PC; only the top 64
    directions are kept, and a fixed seed keeps the fit deterministic.
    """
    k = min(rank + 10, *a.shape)
    omega = np.random.default_rng(0).standard_normal((a.shape[1], k))
    q, _ = np.linalg.qr(a @ omega)
    for _ in range(2):
        q, _ = np.linalg.qr(a @ (a.T @ q))
    _, sing, vt = np.linalg.svd(q.T @ a, full_matrices=False)
    return sing[:rank], vt[:rank]


def mix_with_base(head_probs: np.ndarray, base_probs: np.ndarray, supported: np.ndarray) -> np.ndarray:
    """Unsupported classes keep the base probability; the head shares out what remains."""
    missing = ~supported
    mass = (base_probs * missing).sum(axis=1, keepdims=True)
    return (1.0 - mass) * head_probs * supported + base_probs * missing


@dataclass
class Distance:
    """Mahalanobis distance to the nearest class mean, per dimension (≈1 for frames like the support)."""

    means: np.ndarray  # [K, D] of supported classes
    basis: np.ndarray  # [D, r] eigenvectors of the shrunk covariance
    basis_weight: np.ndarray  # [r]: 1/λ_i − 1/floor (≤ 0)
    floor: float  # isotropic variance of the shrunk covariance

    def score(self, x: np.ndarray) -> np.ndarray:
        diff = x[:, None, :] - self.means[None]
        iso = (diff ** 2).sum(axis=2) / self.floor
        proj = diff @ self.basis
        d2 = iso + (proj ** 2 * self.basis_weight).sum(axis=2)
        return d2.min(axis=1) / x.shape[1]


def fit_distance(x: np.ndarray, y: np.ndarray, *, shrink: float = 0.5, rank: int = 64) -> Distance:
    """Pooled within-class covariance, shrunk half-way to its mean variance (few support frames)."""
    classes = np.unique(y)
    means = np.stack([x[y == c].mean(axis=0) for c in classes])
    centred = x - means[np.searchsorted(classes, y)]
    d = x.shape[1]
    total_var = float((centred ** 2).sum() / max(1, len(x) - len(classes)))  # trace of S
    floor = shrink * total_var / d + 1e-6
    sing, vt = _top_components(centred, rank)
    r = int((sing > 1e-8 * max(1.0, sing[0] if len(sing) else 1.0)).sum())
    lam = (1 - shrink) * sing[:r] ** 2 / max(1, len(x) - len(classes)) + floor
    return Distance(means, vt[:r].T.copy(), 1.0 / lam - 1.0 / floor, floor)
