"""A synthetic 'facility' set the shipped classifier never saw in this form, for `models eval --few-shot`.

Each class uses only the specimen sub-type that training held out of the calibration head
(`metrics.unseen_subtypes.held_out` in the classifier card), imaged with a shifted instrument
(BSE detector, low dose, tilt), at seeds far from the training seeds. Writes DIR/<Class>/*.png.

    .venv/bin/python benchmarks/adaptation_data.py DIR [--per-class 12] [--seed 90210]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from nanoaid_daemon.config import default_models_dir
from nanoaid_daemon.synth import render, write_frame


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--per-class", type=int, default=12)
    ap.add_argument("--seed", type=int, default=90210)
    args = ap.parse_args()
    card = json.loads((default_models_dir() / "nffa-classifier.card.json").read_text())
    held = card["metrics"]["unseen_subtypes"]["held_out"]
    for cls, arrangement in held.items():
        folder = args.out / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(args.per_class):
            frame = render(cls, seed=args.seed + 1000 * i + len(cls), size=(384, 512), bits=8, databar=True,
                           arrangement=arrangement, detector="BSE", dose=6.0, tilt_deg=20.0)
            write_frame(frame, folder / f"{cls.lower()}_{i:03d}.png")
    print(f"wrote {args.per_class} frames per class to {args.out} (sub-types {held})")


if __name__ == "__main__":
    main()
