#!/usr/bin/env python3
"""Synthetic-frame cost (prints figures; asserts nothing).

    .venv/bin/python benchmarks/bench_synth.py [--repeat 5] [--size 1024x768]

1. Median wall time of ``render`` per class for one frame on one core. Goal: ≤ 0.3 s at 1024×768
   (demos and tests render frames on the fly).
2. Encoding the frame as an FEI-style TIFF and as a PNG (what ``nanoaid synth`` writes).
3. Frames per second of ``nanoaid synth --size mixed`` (the training mix) in one process.
"""
from __future__ import annotations

import argparse
import statistics
import time

from nanoaid_daemon.synth import CLASSES, encode_frame, render
from nanoaid_daemon.synth.output import _frame_size

TARGET_S = 0.3


def _median_s(fn, repeat: int) -> float:
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size", default="1024x768")
    args = parser.parse_args()
    cols, rows = (int(v) for v in args.size.split("x"))
    print(f"render {cols}x{rows}, median of {args.repeat} seeds, one core:")
    worst = 0.0
    for name in CLASSES:
        s = _median_s(lambda i, name=name: render(name, 100 + i, size=(rows, cols)), args.repeat)
        worst = max(worst, s)
        print(f"  {name:<30}{s * 1000:8.0f} ms   {s / TARGET_S:5.2f} x target")
    frame = render("Nanowires", 1, size=(rows, cols), databar=True)
    tif = _median_s(lambda i: encode_frame(frame, ".tif", "fei"), args.repeat)
    png = _median_s(lambda i: encode_frame(frame, ".png", compress_level=3), args.repeat)
    print(f"slowest class {worst * 1000:.0f} ms; encode FEI TIFF {tif * 1000:.1f} ms, PNG {png * 1000:.1f} ms")
    n = 3 * len(CLASSES)
    start = time.perf_counter()
    for i in range(n):
        render(CLASSES[i % len(CLASSES)], 500 + i, size=_frame_size("mixed", 500 + i))
    print(f"training mix (size=mixed): {n / (time.perf_counter() - start):.1f} frames/s in one process")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
