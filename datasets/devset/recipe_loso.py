#!/usr/bin/env python3
"""The shipped recipe, with and without real frames in its head, leave-source-out on the development set.

    python datasets/devset/recipe_loso.py DEVSET --synthetic .cache/nanoaid-train/synthetic-500-2024 \
        --widths widths.csv --cache /tmp/recipe-cache [--dev-weights 0,10,30]

``levers.py`` measures levers on cheap heads (400 synthetic frames, clean views); this script runs
the head of ``python3 dev.py models`` itself: the same 5,000 synthetic frames, views, seed, scale
input and calibration (L2 and temperature chosen on held-out synthetic sub-types,
``training/calibration.py``), on features cached under ``--cache`` (the frozen trunk runs once:
about 12 minutes on 2 cores, then seconds).

Each ``--dev-weights`` value W > 0 adds the *committed* development frames (those the manifest gives
a ``file``: what ``dev.py models`` could train on offline) to the head's training rows — clean view
plus the recipe's augmented views, width hidden, each counted W times — and refits the head once per
committed source with that source's frames left out; a frame is always scored by a head that never
saw its source (leave-source-out). Frames of manifest-only sources are scored by the head fitted on
all committed frames. W = 0 is the shipped recipe (synthetic frames only). The temperature is the
synthetic calibration's. For scale, the last rows fit the head on the real frames alone (every
frame of DEVSET from the other sources, clean views, no synthetic frame, no calibration): what the
set itself could teach a frozen-trunk head. Figures only: nothing is written to ``models/``.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from nanoaid_daemon.evaluation.devset import load_manifest  # noqa: E402
from nanoaid_daemon.evaluation.folders import scan_labelled  # noqa: E402
from nanoaid_daemon.sidecar import CLASSES  # noqa: E402
from nanoaid_daemon.training.calibration import choose_head  # noqa: E402
from nanoaid_daemon.training.classifier import ClassifierOptions, _counts, _sources, with_scale  # noqa: E402
from nanoaid_daemon.training.features import FeatureSet, Source, ViewCounts  # noqa: E402
from nanoaid_daemon.training.heads import LinearHead, fit_softmax  # noqa: E402
from nanoaid_daemon.training.realrows import fit_with_real, real_design  # noqa: E402
from nanoaid_daemon.training.scale import scale_features  # noqa: E402

ACCEPT = 0.8
N = len(CLASSES)


def _extract(sources: list[Source], counts, seed: int, work: Path) -> FeatureSet:

    from nanoaid_daemon.training.backbone import N_BLOCKS, load_backbone
    from nanoaid_daemon.training.classifier import set_determinism
    from nanoaid_daemon.training.features import TrunkRunner, extract_features

    set_determinism(seed, 2)  # fixed seed and 2 torch threads, as `dev.py models`
    runner = TrunkRunner(load_backbone(224), N_BLOCKS, 224, work, 2)

    def progress(done: int, total: int) -> None:
        if done % 250 == 0 or done == total:
            print(f"features: {done}/{total}", file=sys.stderr, flush=True)

    return extract_features(runner, sources, counts, size=224, seed=seed, progress=progress)


def cached_features(name: str, sources: list[Source], counts, seed: int, cache: Path) -> FeatureSet:
    file = cache / f"{name}.npz"
    if file.is_file():
        z = np.load(file)
        return FeatureSet(z["x"], z["source"], z["kind"], z["width"])
    cache.mkdir(parents=True, exist_ok=True)
    feats = _extract(sources, counts, seed, cache)
    width = feats.width if feats.width is not None else np.full(len(feats.source), np.nan)
    np.savez(file, x=feats.x, source=feats.source, kind=feats.kind, width=width)
    return feats


def softmax(logits: np.ndarray, t: float) -> np.ndarray:
    z = logits / t
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def figures(p: np.ndarray, y: np.ndarray, src: np.ndarray, known: np.ndarray) -> dict:
    pred = p.argmax(1)
    right = pred == y
    acc = p.max(1) >= ACCEPT
    return {"images": int(len(y)), "accuracy": float(right.mean()), "top2": float(top2_right(p, y).mean()),
            "balanced": float(np.mean([right[y == c].mean() for c in range(N) if np.any(y == c)])),
            "mean_over_sources": float(np.mean([right[src == s].mean() for s in sorted(set(src))])),
            "known_scale": float(right[known].mean()) if known.any() else float("nan"),
            "coverage": float(acc.mean()),
            "accepted_precision": float(right[acc].mean()) if acc.any() else float("nan"),
            "accepted": f"{int(right[acc].sum())}/{int(acc.sum())}",
            "recall": {CLASSES[c]: float(right[y == c].mean()) for c in range(N) if np.any(y == c)}}


def top2_right(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (np.argsort(-p, axis=1)[:, :2] == y[:, None]).any(axis=1)


def paired(right_a: np.ndarray, right_b: np.ndarray) -> dict:
    """Frames B gets right and A wrong, and the reverse; exact two-sided McNemar p (same frames, two heads)."""
    gained, lost = int((right_b & ~right_a).sum()), int((~right_b & right_a).sum())
    n = gained + lost
    tail = sum(math.comb(n, i) for i in range(min(gained, lost) + 1)) / 2**n if n else 0.5
    return {"gained": gained, "lost": lost, "p": min(1.0, 2 * tail)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("devset", type=Path)
    ap.add_argument("--synthetic", type=Path, required=True)
    ap.add_argument("--widths", type=Path, help="file,field_width_um (datasets/devset/widths.py)")
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--manifest", type=Path, default=HERE / "manifest.csv")
    ap.add_argument("--dev-weights", default="0,10,30")
    ap.add_argument("--open", type=Path, default=HERE / "open", help="the committed copies (training rows)")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--views", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    opts = ClassifierOptions(data=[args.synthetic], out=Path("/nonexistent"), seed=args.seed, views=args.views)
    syn_sources = _sources([args.synthetic])
    syn = with_scale(cached_features(f"synthetic-{len(syn_sources)}-{args.seed}-v{args.views}", syn_sources,
                                     _counts(opts), args.seed, args.cache))
    ys_all = np.array([s.label for s in syn_sources])[syn.source]
    choice = choose_head(syn, syn_sources, ys_all, opts.l2_grid, args.seed, lambda m: print(m, file=sys.stderr))
    split = np.array([s.split for s in syn_sources])[syn.source]
    train = (split == "train") & np.isin(syn.kind, (0, 1))
    print(f"synthetic calibration: L2 {choice.l2:g}, T {choice.temperature:.3f}", file=sys.stderr)

    manifest = {r.id: r for r in load_manifest(args.manifest)}
    with open(args.devset / "groups.csv", newline="", encoding="utf-8") as fh:
        group = {(args.devset / r["file"]).resolve(): r["source"] for r in csv.DictReader(fh)}
    widths: dict[str, float] = {}
    if args.widths:
        with open(args.widths, newline="", encoding="utf-8") as fh:
            widths = {r["file"]: float(r["field_width_um"]) for r in csv.DictReader(fh)}
    # scored: the clean view of every frame of DEVSET (as the daemon sees it, with its width where known)
    items = scan_labelled(args.devset)
    scored_src = [Source(it.path, it.label, it.sha256, "test", {}) for it in items]
    full = cached_features(f"devset-{len(items)}-{args.seed}", scored_src, lambda s: ViewCounts(clean=1),
                           args.seed, args.cache)
    yd = np.array([it.label for it in items])
    src = np.array([group[it.path.resolve()] for it in items])
    wd = np.array([widths.get(f"{it.path.parent.name}/{it.path.name}", np.nan) for it in items])
    known = np.isfinite(wd)
    order = np.argsort(full.source)
    xdev_eval = np.hstack([full.x[order], scale_features(wd)])
    # trained on: the committed copies (what `dev.py models` can read offline), clean + augmented views
    open_items = scan_labelled(args.open)
    open_src = np.array([manifest[it.path.stem].source for it in open_items])
    open_feats = cached_features(f"open-{len(open_items)}-{args.seed}-v{args.views}",
                                 [Source(it.path, it.label, it.sha256, "train", {}) for it in open_items],
                                 lambda s: ViewCounts(clean=1, augmented=args.views), args.seed, args.cache)
    xo = real_design(open_feats.x, scale=True)
    yo = np.array([it.label for it in open_items])[open_feats.source]
    committed_sources = sorted(set(open_src))
    is_committed = np.isin(src, committed_sources)
    print(f"{len(items)} dev frames, {len(set(src))} sources, {int(is_committed.sum())} of committed sources; "
          f"{len(open_items)} committed copies ({len(committed_sources)} sources); {int(known.sum())} with a width",
          file=sys.stderr)

    def fit(frames: np.ndarray, weight: int) -> LinearHead:  # exactly the shipped recipe's head (realrows.py)
        rows = np.flatnonzero(np.isin(open_feats.source, frames))
        return fit_with_real(syn.x[train], ys_all[train], xo[rows], yo[rows], choice.l2, weight)

    results = {}
    t = choice.temperature
    for weight in (int(w) for w in args.dev_weights.split(",")):
        p = np.zeros((len(items), N))
        folds: list[str | None] = [None] if not weight else [*committed_sources, None]
        for held in folds:
            frames = np.flatnonzero(open_src != held) if weight else np.zeros(0, np.int64)
            head = fit(frames, weight)
            if held is not None:
                scored = src == held
            else:
                scored = np.ones(len(items), bool) if not weight else ~is_committed
            p[scored] = softmax(head(xdev_eval[scored]), t)
            print(f"W={weight} fold {held or 'the rest'}: {int(scored.sum())} frames", file=sys.stderr, flush=True)
        r = figures(p, yd, src, known)
        r_open = figures(p[is_committed], yd[is_committed], src[is_committed], known[is_committed])
        results[f"W={weight}"] = {"all": r, "committed_sources": r_open, "temperature": t,
                                  "predictions": p.round(4).tolist()}
        if weight and "W=0" in results:  # paired against the synthetic-only head, frame by frame
            p0 = np.array(results["W=0"]["predictions"])
            results[f"W={weight}"]["vs_W=0"] = {
                "top1": paired(p0.argmax(1) == yd, p.argmax(1) == yd), "top2": paired(top2_right(p0, yd),
                                                                                    top2_right(p, yd))}
        print(f"W={weight:<3} all {r['accuracy']:.1%} top2 {r['top2']:.1%} mean/src {r['mean_over_sources']:.1%} "
              f"width {r['known_scale']:.1%} accepted {r['coverage']:.1%} prec {r['accepted_precision']:.1%} "
              f"({r['accepted']}) | committed sources {r_open['accuracy']:.1%} "
              f"mean/src {r_open['mean_over_sources']:.1%} prec {r_open['accepted_precision']:.1%} "
              f"({r_open['accepted']})", flush=True)
        if "vs_W=0" in results[f"W={weight}"]:
            cmp = results[f"W={weight}"]["vs_W=0"]
            print(f"        vs W=0: top-1 +{cmp['top1']['gained']}/-{cmp['top1']['lost']} (McNemar p "
                  f"{cmp['top1']['p']:.3f}), top-2 +{cmp['top2']['gained']}/-{cmp['top2']['lost']} "
                  f"(p {cmp['top2']['p']:.3f})", flush=True)
    # for scale: what the real frames alone teach a head (every other source's frames, no synthetic ones)
    xr = full.x[order]
    for l2 in (0.01, 0.1, 1.0):
        p = np.zeros((len(items), N))
        for held in sorted(set(src)):
            out = src == held
            p[out] = softmax(fit_softmax(xr[~out], yd[~out], N, l2)(xr[out]), 1.0)
        r = figures(p, yd, src, known)
        results[f"real frames only, L2 {l2:g}"] = {"all": r}
        print(f"real only, L2 {l2:<5g} all {r['accuracy']:.1%} top2 {r['top2']:.1%} "
              f"mean/src {r['mean_over_sources']:.1%} balanced {r['balanced']:.1%} (uncalibrated)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
