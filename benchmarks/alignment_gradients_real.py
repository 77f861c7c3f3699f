#!/usr/bin/env python3
"""Coherency and orientation per gradient kernel on the real instrument files in ../shared/data/real-sem.

    .venv/bin/python benchmarks/alignment_gradients_real.py

Every page is read as the daemon reads it (databar removed); pages whose pixels the publisher
blanked (a single grey value) are listed as such. Prints coherency and orientation with the spline
(OrientationJ's default, this project's default), finite-difference and Scharr kernels, and the
differences to the spline.
"""
from __future__ import annotations

import gzip
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from nanoaid_daemon.config import Settings
from nanoaid_daemon.host import PluginHost
from nanoaid_plugins.analyzer_alignment.tensor import measure

ROOT = Path(__file__).resolve().parent.parent
REAL = Path(os.environ.get("NANOAID_REAL_SEM", ROOT.parent / "shared" / "data" / "real-sem"))  # as the tests
KINDS = ("spline", "finite-difference", "scharr")


def files(scratch: Path) -> list[Path]:
    out = []
    for path in sorted(REAL.rglob("*")):
        if path.suffix == ".gz":
            target = scratch / path.stem
            with gzip.open(path, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            out.append(target)
        elif path.suffix in (".tif", ".tiff"):
            out.append(path)
    return out


def main() -> int:
    if not REAL.is_dir():
        print(f"no real files at {REAL}")
        return 1
    host = PluginHost.load(Settings(), kinds=("reader",))
    print(f"{'file/page':52} {'C spline':>8} {'C fd':>7} {'C scharr':>8} {'dC scharr':>9} {'dC fd':>7} "
          f"{'θ spline':>8} {'dθ scharr':>9}")
    diffs = []
    with tempfile.TemporaryDirectory() as scratch:
        for path in files(Path(scratch)):
            try:
                pages = host.read(path).pages
            except Exception as exc:  # a deliberately broken file: say so and go on
                print(f"{path.name:52} not read: {exc.__class__.__name__}")
                continue
            for index, page in enumerate(pages):
                diffs += row(f"{path.name}[{index}]", np.asarray(page.pixels))
    if diffs:
        scharr, fd = np.array([d[0] for d in diffs]), np.array([d[1] for d in diffs])
        print(f"\n{len(diffs)} pages with content: coherency scharr − spline mean {scharr.mean():+.4f} "
              f"(range {scharr.min():+.4f} … {scharr.max():+.4f}); finite-difference − spline mean {fd.mean():+.4f}")
    return 0


def row(name: str, pixels: np.ndarray) -> list[tuple[float, float]]:
    if pixels.ndim != 2 or pixels.min() == pixels.max():
        print(f"{name:52} blanked by its publisher (one grey value)")
        return []
    r = {k: measure(pixels, gradient=k) for k in KINDS}
    d_scharr = r["scharr"].coherency - r["spline"].coherency
    d_fd = r["finite-difference"].coherency - r["spline"].coherency
    d_theta = (r["scharr"].orientation_deg - r["spline"].orientation_deg + 90) % 180 - 90
    print(f"{name:52} {r['spline'].coherency:8.4f} {r['finite-difference'].coherency:7.4f} "
          f"{r['scharr'].coherency:8.4f} {d_scharr:+9.4f} {d_fd:+7.4f} {r['spline'].orientation_deg:8.2f} "
          f"{d_theta:+9.2f}")
    return [(d_scharr, d_fd)]


if __name__ == "__main__":
    sys.exit(main())
