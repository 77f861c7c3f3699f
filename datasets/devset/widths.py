#!/usr/bin/env python3
"""Write DEVSET/widths.csv: the field width (µm) of every dev frame whose original file gives one.

    python datasets/devset/widths.py DEVSET [--mirrors DIR] [--shared ../shared] [--out FILE]

The widths come from the original TIFF's vendor metadata (FEI ``[Scan] PixelWidth`` or Zeiss
``ap_image_pixel_size``, times the stored or cropped width; see ``ablation.dev_field_widths``),
so this needs the repository mirrors that ``rebuild.py`` reads. ``nanoaid models eval-devset
MODEL DEVSET --widths DEVSET/widths.csv`` then feeds them to a model with a scale input.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from ablation import dev_field_widths  # noqa: E402

from nanoaid_daemon.evaluation.devset import load_manifest  # noqa: E402
from nanoaid_daemon.evaluation.folders import scan_labelled  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("devset", type=Path)
    ap.add_argument("--manifest", type=Path, default=HERE / "manifest.csv")
    ap.add_argument("--mirrors", type=Path, default=ROOT.parent / ".mirror")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--out", type=Path, help="where to write (default DEVSET/widths.csv)")
    args = ap.parse_args(argv)
    target = args.out or args.devset / "widths.csv"
    widths = dev_field_widths(load_manifest(args.manifest), args.mirrors, args.shared)
    rows = [(it.path.relative_to(args.devset).as_posix(), widths[it.path.stem])
            for it in scan_labelled(args.devset) if it.path.stem in widths]
    with open(target, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["file", "field_width_um"])
        out.writerows((f, f"{w:.6g}") for f, w in rows)
    sys.stdout.write(f"{len(rows)} frames with a field width → {target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
