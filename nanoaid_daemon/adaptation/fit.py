"""Fit an adapted head from support embeddings, with figures from cross-validation on the support.

Everything a decision needs is calibrated on frames the fold's head never saw:

* the temperature (lowest log-loss of the held-out frames' mixed probabilities);
* the conformal quantile ``qhat`` of the LAC score 1 − p(true class), so that a prediction set
  {c : p_c ≥ 1 − qhat} contains the true class for ≥ 1 − alpha of frames like the support;
* the out-of-distribution threshold: the (1 − ood_alpha) conformal quantile of held-out frames'
  distance to the fold's support.

A frame's augmented views always stay in the same fold as the frame, so no figure is flattered by a
flipped copy of a held-out frame sitting in the training side.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .head import Distance, Head, fit_distance, fit_head, mix_with_base, softmax, unit

__all__ = ["Support", "Adapted", "FitOptions", "adapt", "predict", "prediction_sets", "conformal_quantile"]

TEMPERATURES = np.geomspace(0.25, 8.0, 31)


@dataclass
class Support:
    """Embeddings of every view of every support frame; view 0 of each frame is the clean one."""

    emb: np.ndarray  # [V, D]
    base_probs: np.ndarray  # [V, C]
    label: np.ndarray  # [V]
    frame: np.ndarray  # [V] frame index
    clean: np.ndarray  # [V] bool

    def subset(self, mask: np.ndarray) -> Support:
        return Support(self.emb[mask], self.base_probs[mask], self.label[mask], self.frame[mask], self.clean[mask])


@dataclass
class FitOptions:
    l2: float = 1e-3
    iters: int = 300
    folds: int = 5
    alpha: float = 0.1  # prediction sets miss the truth at most this often
    ood_alpha: float = 0.05  # frames like the support flagged as unfamiliar at most this often
    accept: float = 0.8  # the paper's threshold, kept
    use_augmented: bool = True
    min_support: int = 2  # a class is accepted only with this many support frames (else it was never validated)
    target_precision: float = 0.97  # the accept gate is raised until cross-validated accepts are this precise
    keep_base_head: bool = False  # only add the trust gate (OOD, sets, accept gate) to the base model's scores


@dataclass
class Adapted:
    head: Head  # temperature applied
    distance: Distance
    temperature: float
    qhat: float
    ood_threshold: float
    accept_gate: float = 0.8  # top score needed to accept: the paper's 0.8, raised by calibration
    qhat_review: float = 1.0e6  # conformal quantile among frames sent to review (the set offered there)
    metrics: dict[str, Any] = field(default_factory=dict)


def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The ⌈(n+1)(1−α)⌉-th smallest score; 1.0 (no guarantee possible) when n is too small."""
    n = len(scores)
    k = math.ceil((n + 1) * (1 - alpha))
    if n == 0 or k > n:
        return float("inf")
    return float(np.sort(scores)[k - 1])


def predict(head: Head, x: np.ndarray, base_probs: np.ndarray) -> np.ndarray:
    return mix_with_base(softmax(head.logits(x)), base_probs, head.supported)


def prediction_sets(probs: np.ndarray, qhat: float) -> list[np.ndarray]:
    """Classes with p ≥ 1 − qhat, most probable first; never empty (the top class at least)."""
    sets = []
    for row in probs:
        order = np.argsort(-row, kind="stable")
        keep = [c for c in order if row[c] >= 1.0 - qhat]
        sets.append(np.array(keep or [order[0]]))
    return sets


def _folds(support: Support, n_folds: int) -> np.ndarray:
    """Frame → fold, stratified by class, deterministic (frames in their given order)."""
    frames = np.unique(support.frame)
    label_of = {int(f): int(support.label[support.frame == f][0]) for f in frames}
    fold = {}
    seen: dict[int, int] = {}
    for f in frames:
        c = label_of[int(f)]
        fold[int(f)] = (seen.get(c, 0) + c) % n_folds
        seen[c] = seen.get(c, 0) + 1
    return np.array([fold[int(f)] for f in support.frame])


def _train_mask(support: Support, opts: FitOptions) -> np.ndarray:
    return np.ones(len(support.label), bool) if opts.use_augmented else support.clean.copy()


def _cross_validate(support: Support, x: np.ndarray, n_classes: int, opts: FitOptions):
    n_frames = len(np.unique(support.frame))
    n_folds = max(2, min(opts.folds, n_frames))
    fold = _folds(support, n_folds)
    clean = np.flatnonzero(support.clean)
    logits = np.zeros((len(clean), n_classes))
    dist = np.zeros(len(clean))
    supported = np.zeros((len(clean), n_classes), bool)
    counts = np.zeros((len(clean), n_classes), int)
    train_ok = _train_mask(support, opts)
    for f in range(n_folds):
        held = fold[clean] == f
        fit = (fold != f) & train_ok
        if not held.any() or not fit.any():
            continue
        if not opts.keep_base_head:
            head = fit_head(x[fit], support.label[fit], n_classes, l2=opts.l2, iters=opts.iters)
            logits[held] = head.logits(x[clean[held]])
            supported[held] = head.supported
        counts[held] = np.bincount(support.label[fit & support.clean], minlength=n_classes)
        dist[held] = fit_distance(x[fit], support.label[fit]).score(x[clean[held]])
    return logits, supported, dist, counts


def _mixed(logits: np.ndarray, supported: np.ndarray, base: np.ndarray, t: float) -> np.ndarray:
    scaled = np.where(supported, logits / t, -1e4)
    probs = softmax(scaled)
    missing = ~supported
    mass = (base * missing).sum(axis=1, keepdims=True)
    return (1 - mass) * probs * supported + base * missing


def _temperature(logits, supported, base, y) -> float:
    best = (float("inf"), 1.0)
    for t in TEMPERATURES:
        p = _mixed(logits, supported, base, float(t))
        nll = float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))
        if nll < best[0] - 1e-9:
            best = (nll, float(t))
    return best[1]


def adapt(support: Support, n_classes: int, opts: FitOptions | None = None) -> Adapted:
    """The head, its distance model, temperature, conformal and OOD thresholds, and CV figures.

    BLAS runs on one thread here: the products are small, and on a busy 2-core PC a thread pool
    made them 5–30× slower (measured; docs/adaptation.md).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _adapt(support, n_classes, opts or FitOptions())


def _adapt(support: Support, n_classes: int, opts: FitOptions) -> Adapted:
    x = unit(support.emb)
    clean = np.flatnonzero(support.clean)
    y = support.label[clean]
    base = support.base_probs[clean]
    logits, supported, dist, counts = _cross_validate(support, x, n_classes, opts)
    t = 1.0 if opts.keep_base_head else _temperature(logits, supported, base, y)
    probs = _mixed(logits, supported, base, t)
    # Calibrate on held-out frames whose class the fold had seen: that is the situation in use. A frame
    # of a class with one support frame is only ever predicted from the prior in cross-validation.
    own = counts[np.arange(len(y)), y] >= 1
    qhat = conformal_quantile(1.0 - probs[own, y[own]], opts.alpha)
    ood_threshold = conformal_quantile(dist[own], opts.ood_alpha)
    if not math.isfinite(ood_threshold):
        ood_threshold = 0.0  # too few frames to say what "familiar" looks like: nothing is accepted
    eligible = counts >= opts.min_support
    gate = _accept_gate(probs[own], y[own], dist[own], qhat, ood_threshold, eligible[own], opts)
    accepted, _ = decide_many(probs[own], dist[own], qhat, ood_threshold, gate, eligible[own])
    # The set offered in review is calibrated on the frames that go there (harder than average).
    qhat_review = conformal_quantile(1.0 - probs[own, y[own]][~accepted], opts.alpha)
    metrics = decision_metrics(probs, y, dist, qhat, ood_threshold, gate, eligible, _finite(qhat_review))
    train = _train_mask(support, opts)
    if opts.keep_base_head:  # no class "supported": the graph's probs are exactly the base model's
        head = Head(np.zeros((n_classes, x.shape[1])), np.full(n_classes, -1e4), np.zeros(n_classes, bool))
    else:
        head = fit_head(x[train], support.label[train], n_classes, l2=opts.l2, iters=opts.iters).scaled(t)
    distance = fit_distance(x[train], support.label[train])
    metrics.update(frames=int(len(clean)), views=int(train.sum()), temperature=round(t, 4),
                   calibration_frames=int(own.sum()), accept_gate=round(gate, 4))
    return Adapted(head, distance, t, _finite(qhat), ood_threshold, gate, _finite(qhat_review), metrics)


def _accept_gate(probs: np.ndarray, y: np.ndarray, dist: np.ndarray, qhat: float, ood_threshold: float,
                 eligible: np.ndarray, opts: FitOptions) -> float:
    """The lowest top score (≥ the paper's accept) at which cross-validated accepts reach the target
    precision; above 1 (never accept) when no threshold does."""
    candidates = sorted({opts.accept, *[float(p) for p in probs.max(axis=1) if p >= opts.accept]})
    for gate in candidates:
        accepted, _ = decide_many(probs, dist, qhat, ood_threshold, gate, eligible)
        if not accepted.any():
            return gate
        if float((probs.argmax(axis=1) == y)[accepted].mean()) >= opts.target_precision:
            return gate
    return 1.01


def _finite(value: float) -> float:
    """inf (too few frames to vouch for anything) is stored as a large number JSON can carry."""
    return 1.0e6 if not math.isfinite(value) else value


def decide_many(probs: np.ndarray, dist: np.ndarray, qhat: float, ood_threshold: float, accept: float,
                eligible: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """accepted mask and prediction sets, by the same rule the classify analyzer applies.

    ``eligible`` [N, C] or [C]: classes with enough support frames to have been cross-validated.
    """
    sets = prediction_sets(probs, qhat)
    top, pred = probs.max(axis=1), probs.argmax(axis=1)
    ok = np.broadcast_to(eligible, probs.shape)[np.arange(len(pred)), pred]
    accepted = np.array([top[i] >= accept and dist[i] <= ood_threshold and len(s) == 1 and ok[i]
                         for i, s in enumerate(sets)], dtype=bool)
    return accepted, sets


def decision_metrics(probs: np.ndarray, y: np.ndarray, dist: np.ndarray, qhat: float, ood_threshold: float,
                     accept: float, eligible: np.ndarray, qhat_review: float | None = None) -> dict[str, Any]:
    """Accuracy, macro recall, accepted precision/coverage, set coverage and size.

    The set of an accepted frame is its label; a frame in review gets the review set (``qhat_review``).
    """
    pred = probs.argmax(axis=1)
    accepted, sets = decide_many(probs, dist, qhat, ood_threshold, accept, eligible)
    if qhat_review is not None:
        review_sets = prediction_sets(probs, qhat_review)
        sets = [s if accepted[i] else review_sets[i] for i, s in enumerate(sets)]
    right = pred == y
    recalls = [float(right[y == c].mean()) for c in np.unique(y)]
    in_set = np.array([y[i] in s for i, s in enumerate(sets)])
    review = ~accepted
    return {
        "accuracy": _r(right.mean()),
        "macro_recall": _r(np.mean(recalls)) if recalls else None,
        "accepted_fraction": _r(accepted.mean()),
        "accepted_precision": _r(right[accepted].mean()) if accepted.any() else None,
        "set_coverage": _r(in_set.mean()),
        "review_set_coverage": _r(in_set[review].mean()) if review.any() else None,
        "mean_set_size": _r(np.mean([len(s) for s in sets])),
    }


def _r(v: Any) -> float:
    return round(float(v), 4)
