#!/usr/bin/env python3
"""Analyzer cost per frame and backlog throughput (prints figures; asserts nothing).

    .venv/bin/python benchmarks/bench_analyzers.py [--repeat 30] [--frames 200] [--models DIR] [--json PATH] [--quick]

1. Per-analyzer and total median wall time and CPU time (all threads of the process) for one
   1024×768 frame, at the default CPU budget (``pipeline.cpu_budget`` unset: all cores but one)
   and at 2 threads. Goal: ≤ 150 ms total on 2 threads.
2. Frames per second on a 200-frame backlog, worker threads sharing one runtime so classifier and
   autoencoder requests are batched. Goal: ≥ 10 frames/s.
3. The ratio to Modarres et al. (2017): 150,000 images in 150 core-hours = 3.6 core-seconds each.
4. What stacking frames into one classifier call would save: CPU ms per row at 1, 2, 4 and 8 rows
   per session call (rounds alternate the sizes, medians over rounds), at each thread count.

Uses the shipped models in ``models/`` when both cards are there, otherwise stand-ins of the same
contract and cost (EfficientNet-lite0 at 224, a 4-level conv autoencoder at 256; random weights).
The execution providers are the configured defaults: CUDA first where a GPU is present.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from nanoaid_daemon.config import Settings, default_models_dir  # noqa: E402
from nanoaid_daemon.frame import Page, ReadResult  # noqa: E402
from nanoaid_daemon.inference import Runtime  # noqa: E402
from nanoaid_daemon.metadata import Instrument  # noqa: E402
from nanoaid_daemon.plugins import AnalysisContext, PluginContext, load_factory  # noqa: E402
from nanoaid_plugins.analyzer_alignment import MANIFEST as ALIGNMENT  # noqa: E402
from nanoaid_plugins.analyzer_classify import MANIFEST as CLASSIFY  # noqa: E402
from nanoaid_plugins.analyzer_previews import MANIFEST as PREVIEWS  # noqa: E402

try:  # the daemon's pipeline fixes the allocator's thresholds at start; so does this benchmark
    from nanoaid_daemon.heap import steady_heap  # noqa: E402
except ImportError:  # an older tree (compare.py --base): it allocated with glibc's defaults
    def steady_heap() -> bool:
        return False

PAPER_CORE_S = 150 * 3600 / 150_000  # Modarres et al. 2017: 150,000 images, 150 core-hours
REAL_SEM = Path(os.environ.get("NANOAID_REAL_SEM", ROOT.parent / "shared" / "data" / "real-sem"))  # as the tests
REAL_FRAME = REAL_SEM / "rosettasciio" / "test_tiff_Zeiss_SEM_1k.tif"


def pick_models(explicit: Path | None, scratch: Path) -> tuple[Path, str]:
    folder = explicit or default_models_dir()
    if all((folder / f"{n}.card.json").is_file() for n in ("nffa-classifier", "sem-autoencoder")):
        return folder, f"models from {folder}"
    from standin_models import build_standins

    return build_standins(scratch / "models"), (
        "STAND-IN models (shipped models/ not found): EfficientNet-lite0 224 classifier + 4-level conv "
        "autoencoder 256, random weights")


def load_frame() -> tuple[np.ndarray, str]:
    if REAL_FRAME.is_file():
        from nanoaid_daemon.host import PluginHost

        pixels = PluginHost.load(Settings(), kinds=("reader",)).read(REAL_FRAME).primary.pixels
        if pixels.shape == (768, 1024):
            return pixels, f"{REAL_FRAME.name} (real, {pixels.dtype})"
    rng = np.random.default_rng(0)
    return (rng.gamma(2.0, 8000.0, (768, 1024))).clip(0, 65535).astype(np.uint16), "generated noise (uint16)"


def context(pixels: np.ndarray, folder: Path, name: str) -> AnalysisContext:
    page = Page(pixels, 0, Instrument(), *pixels.shape)
    read = ReadResult(folder / name, "bench", "image/tiff", str(pixels.dtype), [page])
    return AnalysisContext(frame_id="0" * 64, read=read, output_dir=folder, preview_stem=name)


def analyzers(runtime: Runtime) -> list[tuple[str, Any]]:
    return [(m.name, load_factory(m)(PluginContext(m, {}, runtime.models_dir, runtime)))
            for m in (CLASSIFY, ALIGNMENT, PREVIEWS)]


def minor_faults() -> int:
    """Pages this process has faulted in so far (fresh memory from the kernel, zeroed)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def per_frame(runtime: Runtime, pixels: np.ndarray, folder: Path, repeat: int,
              faults: list[int] | None = None) -> dict[str, tuple[float, float]]:
    """Median (wall ms, CPU ms) per analyzer and in total; page faults per frame into ``faults``."""
    chain = analyzers(runtime)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in chain}
    samples["total"] = []
    for i in range(repeat + 3):
        f0 = minor_faults()
        ctx = context(pixels, folder, f"frame{i % 4}.tif")
        wall_sum = cpu_sum = 0.0
        for name, analyzer in chain:
            w0, c0 = time.perf_counter(), time.process_time()
            analyzer.analyze(ctx)
            wall, cpu = (time.perf_counter() - w0) * 1e3, (time.process_time() - c0) * 1e3
            wall_sum, cpu_sum = wall_sum + wall, cpu_sum + cpu
            if i >= 3:  # the first runs warm caches and allocators
                samples[name].append((wall, cpu))
        if i >= 3:
            samples["total"].append((wall_sum, cpu_sum))
            if faults is not None:
                faults.append(minor_faults() - f0)
    return {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in samples.items()}


def backlog(runtime: Runtime, pixels: np.ndarray, folder: Path, frames: int,
            workers: int) -> tuple[float, float, float]:
    """(frames/s, CPU ms per frame, mean classifier batch rows) for a backlog worked by ``workers``."""
    chain = analyzers(runtime)
    variants = [pixels, pixels[::-1], pixels[:, ::-1], pixels[::-1, ::-1]]
    todo = list(range(frames))
    lock = threading.Lock()
    model = runtime.model("nffa-classifier")
    runs0, rows0 = model.stats.runs, model.stats.rows

    def work() -> None:
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            ctx = context(np.ascontiguousarray(variants[i % 4]), folder, f"b{i:04d}.tif")
            for _, analyzer in chain:
                analyzer.analyze(ctx)

    threads = [threading.Thread(target=work, name=f"bench-worker-{n}") for n in range(workers)]
    w0, c0 = time.perf_counter(), time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    runs = max(1, model.stats.runs - runs0)
    return frames / wall, cpu / frames * 1e3, (model.stats.rows - rows0) / runs


def rows_per_call(runtime: Runtime, pixels: np.ndarray, rounds: int) -> dict[int, float]:
    """Median CPU ms per row of one classifier session call stacking 1, 2, 4 or 8 frames' inputs."""
    model = runtime.model("nffa-classifier")
    tensor, _ = model.prepare(pixels)
    sizes = (1, 2, 4, 8)
    batches = {n: np.ascontiguousarray(np.broadcast_to(tensor, (n, *tensor.shape))) for n in sizes}
    samples: dict[int, list[float]] = {n: [] for n in sizes}
    for r in range(rounds + 1):
        for n in sizes if r % 2 else sizes[::-1]:  # alternate the order: drifting load hits all alike
            calls = 8 // n
            c0 = time.process_time()
            for _ in range(calls):
                model.infer(batches[n], ("probs", "align_prob", "cams"))
            if r:  # round 0 warms each shape
                samples[n].append((time.process_time() - c0) * 1e3 / (calls * n))
    return {n: statistics.median(v) for n, v in samples.items()}


def report(threads: int, label: str, medians: dict[str, tuple[float, float]]) -> None:
    print(f"\nper frame, {label} ({threads} intra-op thread{'s' if threads > 1 else ''}), median:")
    print(f"  {'analyzer':<12}{'wall ms':>10}{'CPU ms':>10}")
    for name, (wall, cpu) in medians.items():
        print(f"  {name:<12}{wall:>10.1f}{cpu:>10.1f}")
    core_s = medians["total"][1] / 1e3
    print(f"  paper: {PAPER_CORE_S:.1f} core-s/image; here: {core_s:.3f} core-s/frame for all three analyzers "
          f"-> {PAPER_CORE_S / core_s:.0f}x fewer core-seconds per image")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--models", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here as JSON")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5 repeats, 20 frames")
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.frames = 5, 20
    logging.basicConfig(level=logging.WARNING)
    result_heap = steady_heap()
    default_threads = Settings().pipeline.workers()
    result: dict[str, Any] = {"cores": os.cpu_count(), "default_threads": default_threads, "runs": [],
                              "steady_heap": result_heap}
    with tempfile.TemporaryDirectory(prefix="nanoaid-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        models_dir, models_note = pick_models(args.models, scratch)
        pixels, frame_note = load_frame()
        result.update(models=models_note, frame=frame_note)
        print(f"models: {models_note}")
        print(f"frame: {pixels.shape[1]}x{pixels.shape[0]} {frame_note}; host: {os.cpu_count()} cores; "
              f"allocator thresholds {'fixed as the daemon fixes them' if result_heap else 'glibc defaults'}")
        settings = [(default_threads, "default CPU budget")]
        if default_threads != 2:
            settings.append((2, "cpu_budget = 2"))
        for threads, label in settings:
            runtime = Runtime(models_dir, threads=threads, max_batch=16)
            print(f"\nproviders: {runtime.model('nffa-classifier').provider} (configured "
                  f"{', '.join(runtime.configured_providers)})")
            faults: list[int] = []
            medians = per_frame(runtime, pixels, scratch, args.repeat, faults)
            report(threads, label, medians)
            print(f"  page faults per frame (fresh zeroed pages, median): {statistics.median(faults):.0f}")
            run: dict[str, Any] = {"threads": threads, "label": label, "backlog": {},
                                   "per_frame": {k: {"wall_ms": w, "cpu_ms": c} for k, (w, c) in medians.items()},
                                   "page_faults_per_frame": statistics.median(faults)}
            for workers in sorted({threads, 2 * threads}):
                fps, cpu_ms, rows = backlog(runtime, pixels, scratch, args.frames, workers)
                run["backlog"][str(workers)] = {"frames_per_s": fps, "cpu_ms_per_frame": cpu_ms, "batch_rows": rows}
                print(f"  backlog of {args.frames}: {workers} worker thread(s): {fps:.1f} frames/s, "
                      f"{cpu_ms:.0f} CPU ms/frame, classifier batch {rows:.2f} rows on average")
            per_row = rows_per_call(runtime, pixels, max(3, args.repeat // 3))
            run["classifier_cpu_ms_per_row"] = {str(n): ms for n, ms in per_row.items()}
            print("  classifier CPU ms per row, by rows stacked in one call: "
                  + ", ".join(f"{n}: {ms:.2f}" for n, ms in per_row.items()))
            result["runs"].append(run)
            runtime.close()
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
