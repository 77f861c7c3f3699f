#!/usr/bin/env python3
"""A cheap ablation on the development set: linear heads on the shipped model's cached embeddings.

    python datasets/devset/ablation.py DEVSET SYNTH [--mirrors DIR] [--shared ../shared]
        [--model models/nffa-classifier.onnx] [--dev-weight 5] [--l2 0.01]

DEVSET is a folder written by ``rebuild.py`` (class folders + ``groups.csv``); SYNTH a folder
written by ``nanoaid synth`` (class folders + ``truth.jsonl`` with each frame's field width).
Every frame goes through the frozen ONNX trunk once (its ``embedding`` output); the variants
differ only in the linear softmax head fitted on those embeddings:

* ``shipped``: the model's own head (trained on 5,000 synthetic frames);
* ``synthetic``: a head refitted on SYNTH alone (the same for every fold);
* ``synthetic + dev``: SYNTH plus the development frames of every *other* source
  (leave-one-source-out: a source never helps its own evaluation), each dev frame repeated
  ``--dev-weight`` times;
* ``… + field width``: two extra inputs, log10 of the horizontal field width in µm and a flag
  saying whether it is known (synthetic frames always; dev frames where the original TIFF's
  vendor metadata gives a pixel size), so frames without a pixel size fall back to the flag = 0.

Prints one row per variant: accuracy, balanced accuracy, mean accuracy over sources, and the
accuracy on the frames whose field width is known. Figures only, nothing is written or shipped.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from nanoaid_daemon.evaluation.devset import DevImage, load_manifest  # noqa: E402
from nanoaid_daemon.evaluation.folders import Item, scan_labelled  # noqa: E402
from nanoaid_daemon.evaluation.report import Session, _batches  # noqa: E402
from nanoaid_daemon.modelcard import load_card  # noqa: E402
from nanoaid_daemon.training.heads import fit_softmax  # noqa: E402

N_CLASSES = 10


def embed(session: Session, items: list[Item]) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings [N, 1280], shipped probabilities [N, 10]) of the items, in order."""
    feats, probs = [], []
    for _, tensors in _batches(items, session.spec, 16):
        out = session.run(tensors, ["embedding", "probs"])
        feats.append(out["embedding"])
        probs.append(out["probs"])
    return np.concatenate(feats), np.concatenate(probs)


def _original(row: DevImage, mirrors: Path, shared: Path) -> bytes | None:
    if row.repo == "shared":
        path = shared / row.path
        return path.read_bytes() if path.is_file() else None
    git_dir = mirrors / row.repo.replace("/", "+") / "repo"
    if (git_dir / ".git").is_dir():
        git_dir = git_dir / ".git"
    done = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{row.commit}:{row.path}"], capture_output=True)
    return done.stdout if done.returncode == 0 else None


def pixel_size_nm(data: bytes) -> float | None:
    """Pixel size from FEI (``[Scan] PixelWidth``, m) or Zeiss (``ap_image_pixel_size``) TIFF tags."""
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            tags = tif.pages[0].tags
            for name in ("FEI_HELIOS", "FEI_SFEG"):
                if name in tags:
                    value = tags[name].value.get("Scan", {}).get("PixelWidth")
                    if value:
                        return float(value) * 1e9
            if "CZ_SEM" in tags:
                entry = tags["CZ_SEM"].value.get("ap_image_pixel_size") or tags["CZ_SEM"].value.get("ap_pixel_size")
                if entry:
                    _, number, unit = entry[0], float(entry[1]), str(entry[2])
                    scale = {"pm": 1e-3, "nm": 1.0, "µm": 1e3, "um": 1e3, "mm": 1e6}.get(unit.strip())
                    return number * scale if scale else None
    except Exception:  # not a TIFF, or tags the reader cannot parse: no pixel size
        return None
    return None


def dev_field_widths(rows: list[DevImage], mirrors: Path, shared: Path) -> dict[str, float]:
    """{image id: horizontal field width in µm} for rows whose original gives a pixel size."""
    widths = {}
    for row in rows:
        if not row.path.lower().endswith((".tif", ".tiff")):
            continue
        data = _original(row, mirrors, shared)
        size = pixel_size_nm(data) if data else None
        if size is None or not data:
            continue
        import tifffile

        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            width_px = tif.pages[0].shape[1]
        if row.crop:
            width_px = row.crop[2] - row.crop[0]
        widths[row.id] = size * width_px / 1000.0
    return widths


def scale_columns(width_um: list[float | None]) -> np.ndarray:
    """[log10(field width µm), known] per frame; unknown widths are 0 with the flag off."""
    out = np.zeros((len(width_um), 2), np.float32)
    for i, w in enumerate(width_um):
        if w and w > 0:
            out[i] = (math.log10(w), 1.0)
    return out


def scores(pred: np.ndarray, y: np.ndarray, sources: list[str], known: np.ndarray) -> dict[str, float]:
    right = pred == y
    per_class = [right[y == c].mean() for c in range(N_CLASSES) if (y == c).any()]
    per_source = [right[np.array([s == name for s in sources])].mean() for name in sorted(set(sources))]
    return {"accuracy": float(right.mean()), "balanced": float(np.mean(per_class)),
            "mean_over_sources": float(np.mean(per_source)),
            "known_scale": float(right[known].mean()) if known.any() else float("nan")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("devset", type=Path)
    ap.add_argument("synth", type=Path)
    ap.add_argument("--manifest", type=Path, default=HERE / "manifest.csv")
    ap.add_argument("--mirrors", type=Path, default=ROOT.parent / ".mirror")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "nffa-classifier.onnx")
    ap.add_argument("--dev-weight", type=int, default=5)
    ap.add_argument("--l2", type=float, default=0.01, help="head L2 (the shipped head's choice)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    card = load_card(args.model.with_name(args.model.stem + ".card.json"))
    session = Session(args.model, card.input, 2)
    dev_items = scan_labelled(args.devset)
    with open(args.devset / "groups.csv", newline="", encoding="utf-8") as fh:
        source_of = {(args.devset / r["file"]).resolve(): r["source"] for r in csv.DictReader(fh)}
    dev_sources = [source_of[it.path.resolve()] for it in dev_items]
    widths = dev_field_widths(load_manifest(args.manifest), args.mirrors, args.shared)
    dev_scale = scale_columns([widths.get(it.path.stem) for it in dev_items])
    syn_items = scan_labelled(args.synth)
    truth = {}
    for line in (args.synth / "truth.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        truth[(args.synth / rec["file"]).resolve()] = rec["meta"].get("horizontal_field_width_um")
    syn_scale = scale_columns([truth.get(it.path.resolve()) for it in syn_items])

    x_dev, p_dev = embed(session, dev_items)
    x_syn, _ = embed(session, syn_items)
    y_dev = np.array([it.label for it in dev_items])
    y_syn = np.array([it.label for it in syn_items])
    known = dev_scale[:, 1] > 0

    results = {"shipped": scores(p_dev.argmax(1), y_dev, dev_sources, known)}
    for use_scale in (False, True):
        xs = np.hstack([x_syn, syn_scale]) if use_scale else x_syn
        xd = np.hstack([x_dev, dev_scale]) if use_scale else x_dev
        tag = " + field width" if use_scale else ""
        head = fit_softmax(xs, y_syn, N_CLASSES, args.l2)
        results["synthetic" + tag] = scores(head(xd).argmax(1), y_dev, dev_sources, known)
        pred = np.empty(len(y_dev), np.int64)
        for name in sorted(set(dev_sources)):
            held = np.array([s == name for s in dev_sources])
            rep = np.repeat(np.flatnonzero(~held), args.dev_weight)
            fold = fit_softmax(np.vstack([xs, xd[rep]]), np.concatenate([y_syn, y_dev[rep]]), N_CLASSES, args.l2)
            pred[held] = fold(xd[held]).argmax(1)
        results["synthetic + dev (leave-source-out)" + tag] = scores(pred, y_dev, dev_sources, known)

    print(f"{len(y_dev)} dev frames from {len(set(dev_sources))} sources ({int(known.sum())} with a field width), "
          f"{len(y_syn)} synthetic frames; dev weight {args.dev_weight}, L2 {args.l2}")
    print(f"{'head':<48} {'accuracy':>8} {'balanced':>8} {'per-source':>10} {'with scale':>10}")
    for name, r in results.items():
        print(f"{name:<48} {r['accuracy']:>8.1%} {r['balanced']:>8.1%} {r['mean_over_sources']:>10.1%} "
              f"{r['known_scale']:>10.1%}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
