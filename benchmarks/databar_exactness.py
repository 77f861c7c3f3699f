#!/usr/bin/env python3
"""How often databar detection from the pixels is exact, on the generated set of strips of 10–120 rows.

    .venv/bin/python benchmarks/databar_exactness.py

Prints, per look (fei, zeiss, plain, tall) and overall, how many detections equal the true strip
height, how many miss it (0) and the largest error. The set is ``tests/readers/databar_frames.py``.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "readers"))

from databar_frames import frames  # noqa: E402

from nanoaid_daemon.readkit import detect_databar  # noqa: E402


def main() -> int:
    rows: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for frame in frames():
        rows[frame.look].append((frame.bar_rows, detect_databar(frame.pixels)))
    print(f"{'look':8} {'frames':>6} {'exact':>6} {'missed':>6} {'max error':>9}")
    everything = []
    for look, pairs in rows.items():
        everything += pairs
        report(look, pairs)
    report("all", everything)
    return 0


def report(name: str, pairs: list[tuple[int, int]]) -> None:
    exact = sum(t == d for t, d in pairs)
    missed = sum(d == 0 for _, d in pairs)
    worst = max(abs(t - d) for t, d in pairs)
    print(f"{name:8} {len(pairs):6d} {exact:6d} {missed:6d} {worst:9d}   ({100 * exact / len(pairs):.1f} % exact)")


if __name__ == "__main__":
    sys.exit(main())
