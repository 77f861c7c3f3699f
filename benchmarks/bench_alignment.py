#!/usr/bin/env python3
"""Alignment cost per gradient kernel on a 1024×768 frame (prints figures; asserts nothing).

    .venv/bin/python benchmarks/bench_alignment.py [--repeat 41] [--compare-with ../main] [--json PATH]

Median CPU time (all threads of the process) and wall time of ``tensor.measure`` per gradient
(``spline`` — the default —, ``finite-difference``, ``scharr``), the kernels run round-robin so a
busy machine slows them alike. ``--compare-with DIR`` also times ``plugins/analyzer_alignment/tensor.py``
of another checkout (e.g. the main branch) in the same run, printed side by side. Goal (issue 16):
≤ 12 ms per frame.
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REAL_SEM = Path(os.environ.get("NANOAID_REAL_SEM", ROOT.parent / "shared" / "data" / "real-sem"))  # as the tests
REAL_FRAME = REAL_SEM / "rosettasciio" / "test_tiff_Zeiss_SEM_1k.tif"

from nanoaid_plugins.analyzer_alignment.tensor import measure  # noqa: E402

KINDS = ("spline", "finite-difference", "scharr")


def load_frame() -> tuple[np.ndarray, str]:
    if REAL_FRAME.is_file():
        import tifffile

        return np.asarray(tifffile.imread(REAL_FRAME)), f"{REAL_FRAME.name} (real, 768×1024)"
    rng = np.random.default_rng(0)
    return rng.gamma(2.0, 30.0, (768, 1024)).clip(0, 255).astype(np.uint8), "generated noise (uint8)"


def other_measure(checkout: Path) -> Callable[[np.ndarray], object]:
    """``measure`` of another checkout's tensor.py, loaded by path (it needs only numpy)."""
    path = checkout / "plugins" / "analyzer_alignment" / "tensor.py"
    if (path.parent / "gradients.py").is_file():
        sys.exit(f"{checkout} already has the gradient kernels; compare with a checkout from before them")
    spec = importlib.util.spec_from_file_location("other_tensor", path)
    if spec is None or spec.loader is None:
        sys.exit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module.measure


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.process_time() - cpu) * 1e3, (time.perf_counter() - wall) * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=41)
    parser.add_argument("--compare-with", type=Path, help="another checkout whose tensor.py to time alongside")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--quick", action="store_true", help="5 repeats")
    args = parser.parse_args(argv)
    repeat = 5 if args.quick else args.repeat
    pixels, label = load_frame()
    cases: dict[str, Callable[[], object]] = {k: functools.partial(measure, pixels, gradient=k) for k in KINDS}
    if args.compare_with:
        before = other_measure(args.compare_with.resolve())
        cases[f"before ({args.compare_with.name}, scharr)"] = lambda: before(pixels)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for fn in cases.values():  # warm-up
        fn()
    for _ in range(repeat):
        for name, fn in cases.items():
            samples[name].append(timed(fn))
    print(f"frame: {label}; {repeat} runs each, round-robin; median (min) milliseconds")
    print(f"{'gradient':34} {'CPU ms':>14} {'wall ms':>14}")
    figures = {}
    for name, runs in samples.items():
        cpu, wall = [r[0] for r in runs], [r[1] for r in runs]
        figures[name] = {"cpu_ms": statistics.median(cpu), "wall_ms": statistics.median(wall)}
        print(f"{name:34} {statistics.median(cpu):7.2f} ({min(cpu):5.2f}) {statistics.median(wall):7.2f} "
              f"({min(wall):5.2f})")
    if args.json:
        args.json.write_text(json.dumps({"frame": label, "repeat": repeat, "figures": figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
