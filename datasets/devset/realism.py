#!/usr/bin/env python3
"""Does synthetic realism move leave-source-out accuracy? The generator's realism switched off, up and mixed.

    python datasets/devset/realism.py DEVSET --work /tmp/realism --cache /tmp/prior-cache

Each variant renders the same 400 synthetic frames as ``levers.py``'s base set (40 per class, seed
2024, mixed sizes and depths: the same specimens, since scenes are drawn before contrast) with the
generator's realism overrides (``synth/render.py`` ``OVERRIDES``) set one way, fits the base row's
head (class-weighted linear softmax, L2 0.01, clean views, Lite0) on it and scores the development
set exactly as ``levers.py`` does (all dev sources unseen: the head sees synthetic frames only).
"+ mixed" rows train on the base frames and a variant's together (twice the frames: diversity, not
a different look). Sets are rendered once under ``--work``; embeddings are cached under ``--cache``.
Figures only: nothing is written or shipped.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from levers import dev_frames, embeddings, run_variant, synthetic_frames  # noqa: E402

from nanoaid_daemon.synth import write_dataset  # noqa: E402

#: variant → render overrides (None = the shipped generator as it is)
VARIANTS: dict[str, dict | None] = {
    "shipped generator": None,
    "plain (no dust, quiet scan, no tilt, no databar, in-lens detector)": {
        "clutter": False, "dose": 600.0, "tilt_deg": 0, "databar": False, "detector": "InLens"},
    "no dust or contamination": {"clutter": False},
    "quiet scans only (dose 600)": {"dose": 600.0},
    "noisy fast scans only (dose 4)": {"dose": 4.0},
    "no edge effect": {"edge": 0.0},
    "strong edge effect (x2.5)": {"edge": 2.5},
    "no charging": {"charging": 0.0},
    "strong charging (x3)": {"charging": 3.0},
    "every frame tilted 30 deg": {"tilt_deg": 30},
    "Everhart-Thornley detector only": {"detector": "ETD"},
    "no databar": {"databar": False},
}
MIXED = ("noisy fast scans only (dose 4)", "strong edge effect (x2.5)", "strong charging (x3)",
         "every frame tilted 30 deg")


def render_set(folder: Path, overrides: dict | None, per_class: int, seed: int, workers: int) -> Path:
    if not (folder / "truth.jsonl").is_file():
        ov = dict(overrides or {})
        write_dataset(folder, per_class, seed, size="mixed", bits=0, overrides_of=lambda _n, _i: ov, workers=workers)
    return folder


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("devset", type=Path)
    ap.add_argument("--work", type=Path, required=True, help="where the variant sets are rendered (reused)")
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--manifest", type=Path, default=HERE / "manifest.csv")
    ap.add_argument("--mirrors", type=Path, default=ROOT.parent / ".mirror")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    dev, sources, wd, yd = dev_frames(args.devset, args.manifest, args.mirrors, args.shared)
    xd = embeddings("lite0", [it.path for it in dev], args.cache, 8)  # cached by levers.py: view 0 is the clean one
    sets = {}
    for name, overrides in VARIANTS.items():
        slug = "base" if overrides is None else "-".join(f"{k}{v}" for k, v in overrides.items()).lower()
        folder = render_set(args.work / slug, overrides, args.per_class, args.seed, args.workers)
        syn, ys, ws = synthetic_frames(folder)
        sets[name] = (embeddings("lite0", [it.path for it in syn], args.cache, 1), ys, ws)
    rows = {name: sets[name] for name in VARIANTS}
    base = sets["shipped generator"]
    for name in MIXED:
        x, y, w = sets[name]
        rows[f"shipped + {name}"] = (np.concatenate([base[0], x], axis=1), np.concatenate([base[1], y]),
                                     np.concatenate([base[2], w]))
    results = {}
    for name, (xs, ys, ws) in rows.items():
        results[name] = r = run_variant(xs, ys, ws, xd[:1], yd, wd, sources, l2=1e-2, flips=False, tta=False,
                                        scale=False)
        print(f"{name:<72} {r['accuracy']:>6.1%} {r['mean_over_sources']:>6.1%} {r['coverage']:>6.1%} "
              f"{r['accepted_precision']:>6.1%} ({r['accepted']})", flush=True)
    print(f"{len(yd)} dev frames, {len(set(sources))} sources; columns: accuracy, mean over sources, accepted share, "
          "accepted precision")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
