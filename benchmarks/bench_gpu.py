#!/usr/bin/env python3
"""The GPU path: frames/s and per-stage times with the CUDA provider, I/O binding and batches.

    .venv/bin/python benchmarks/bench_gpu.py [--frames 256] [--batches 1,8,32] [--workers N] [--json out.json]

1. Per-stage median milliseconds for one 1024×768 frame: reading the TIFF, the classifier's
   preprocessing, classifier inference (batch of 1), alignment, previews (whose autoencoder runs
   on the same provider).
2. Classifier inference alone at each batch size: milliseconds per batch and frames/s, inputs
   prepared beforehand (the device's own rate, with one host → device copy per batch).
3. Whole backlog: ``--frames`` frames through read → classify → alignment → previews on
   ``--workers`` threads sharing one runtime, so classifier requests are batched as they coincide
   (``models.max_batch`` = the largest ``--batches``): frames/s, mean classifier batch rows.

Runs anywhere: where no CUDA device can be used it says so in its first line and measures the CPU
fallback instead (those figures are not GPU figures). The exit status is 0 either way; ``--require-gpu``
makes it 3 when no GPU was used.
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analyzers import analyzers, context, load_frame, pick_models, steady_heap  # noqa: E402

from nanoaid_daemon.config import Settings  # noqa: E402
from nanoaid_daemon.inference import GPU_PROVIDERS, Runtime  # noqa: E402

CLASSIFIER = "nffa-classifier"


def gpu_status() -> tuple[bool, str]:
    """(usable, why): onnxruntime's CUDA provider present and a device behind it."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        return False, f"this onnxruntime ({ort.__version__}) has no CUDAExecutionProvider (has {available})"
    try:
        count = ort.get_device()  # "GPU" for a CUDA build, whatever the host has
    except Exception as exc:  # pragma: no cover - defensive
        count = f"unknown ({exc})"
    if not (Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia/version").exists()):
        return False, f"onnxruntime {ort.__version__} ({count} build) finds no NVIDIA driver/device on this host"
    return True, f"onnxruntime {ort.__version__} with CUDAExecutionProvider"


def median_ms(fn, repeat: int) -> float:
    fn()  # first call warms caches, allocators and the provider's kernels
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def stages(runtime: Runtime, frame_path: Path, folder: Path, repeat: int) -> dict[str, float]:
    from nanoaid_daemon.host import PluginHost

    host = PluginHost.load(Settings(), kinds=("reader",))
    pixels = host.read(frame_path).primary.pixels
    chain = dict(analyzers(runtime))
    model = runtime.model(CLASSIFIER)
    tensor, _ = model.prepare(pixels)
    ctx = context(pixels, folder, "stage.tif")
    chain["classify"].analyze(ctx)  # the CAM the previews draw from
    return {
        "read_ms": median_ms(lambda: host.read(frame_path), repeat),
        "preprocess_ms": median_ms(lambda: model.prepare(pixels), repeat),
        "classifier_infer_ms": median_ms(lambda: model.infer(tensor[None], ("probs", "align_prob", "cams")), repeat),
        "classify_total_ms": median_ms(lambda: chain["classify"].analyze(ctx), repeat),
        "alignment_ms": median_ms(lambda: chain["alignment"].analyze(ctx), repeat),
        "previews_ms": median_ms(lambda: chain["previews"].analyze(ctx), repeat),
    }


def inference_rates(runtime: Runtime, pixels: np.ndarray, batches: list[int], repeat: int) -> list[dict]:
    model = runtime.model(CLASSIFIER)
    tensor, _ = model.prepare(pixels)
    rows = []
    for size in batches:
        batch = np.ascontiguousarray(np.broadcast_to(tensor, (size, *tensor.shape)))
        ms = median_ms(lambda b=batch: model.infer(b, ("probs", "align_prob", "cams")), repeat)
        rows.append({"batch": size, "ms_per_batch": ms, "frames_per_s": size / ms * 1e3})
    return rows


def backlog(runtime: Runtime, frame_path: Path, folder: Path, frames: int, workers: int) -> dict:
    from nanoaid_daemon.host import PluginHost

    host = PluginHost.load(Settings(), kinds=("reader",))
    chain = analyzers(runtime)
    model = runtime.model(CLASSIFIER)
    runs0, rows0 = model.stats.runs, model.stats.rows
    todo, lock = list(range(frames)), threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            pixels = host.read(frame_path).primary.pixels
            ctx = context(pixels if i % 2 else np.ascontiguousarray(pixels[::-1]), folder, f"g{i:05d}.tif")
            for _, analyzer in chain:
                analyzer.analyze(ctx)

    threads = [threading.Thread(target=work, name=f"gpu-bench-{n}") for n in range(workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    runs = max(1, model.stats.runs - runs0)
    return {"frames": frames, "workers": workers, "frames_per_s": frames / wall,
            "mean_batch_rows": (model.stats.rows - rows0) / runs}


def write_frame(pixels: np.ndarray, folder: Path) -> Path:
    import tifffile

    path = folder / "frame.tif"
    tifffile.imwrite(path, pixels)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--workers", type=int, default=None, help="backlog threads (default: CPU cores, at most 16)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--models", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 16 frames, 5 repeats")
    parser.add_argument("--require-gpu", action="store_true", help="exit 3 when no GPU could be used")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.repeat = 16, 5
    logging.basicConfig(level=logging.WARNING)
    steady_heap()  # as the daemon's pipeline does at start
    batches = sorted({int(b) for b in args.batches.split(",")})
    workers = args.workers or min(16, os.cpu_count() or 1)
    usable, why = gpu_status()
    with tempfile.TemporaryDirectory(prefix="nanoaid-bench-gpu-") as scratch:
        folder = Path(scratch)
        models_dir, models_note = pick_models(args.models, folder)
        pixels, frame_note = load_frame()
        frame_path = write_frame(pixels, folder)
        runtime = Runtime(models_dir, providers=["CUDAExecutionProvider", "CPUExecutionProvider"],
                          threads=max(1, (os.cpu_count() or 2) - 1), max_batch=max(batches))
        provider = runtime.model(CLASSIFIER).provider
        on_gpu = provider in GPU_PROVIDERS
        if usable and not on_gpu:
            why = "the CUDA provider is present but failed to start a session (see onnxruntime's messages above)"
        if on_gpu:
            print(f"GPU: {why}; classifier runs on {provider} with I/O binding")
        else:
            print(f"NO GPU USED: {why}. Measuring the CPU fallback ({provider}); these are NOT GPU figures.")
        print(f"models: {models_note}\nframe: {pixels.shape[1]}x{pixels.shape[0]} {frame_note}; "
              f"host: {os.cpu_count()} cores; intra-op threads {runtime.threads}")
        result = {"gpu": on_gpu, "provider": provider, "why": why, "models": models_note,
                  "stages": stages(runtime, frame_path, folder, args.repeat),
                  "inference": inference_rates(runtime, pixels, batches, args.repeat),
                  "backlog": backlog(runtime, frame_path, folder, args.frames, workers)}
        runtime.close()
    print("\nper stage, one frame, median ms:")
    for name, ms in result["stages"].items():
        print(f"  {name[:-3]:<22}{ms:>9.2f}")
    print("\nclassifier inference alone (inputs prepared):")
    print(f"  {'batch':>5}{'ms/batch':>11}{'frames/s':>11}")
    for row in result["inference"]:
        print(f"  {row['batch']:>5}{row['ms_per_batch']:>11.2f}{row['frames_per_s']:>11.1f}")
    b = result["backlog"]
    print(f"\nbacklog, read -> classify -> alignment -> previews: {b['frames']} frames on {b['workers']} threads: "
          f"{b['frames_per_s']:.1f} frames/s, classifier batch {b['mean_batch_rows']:.2f} rows on average")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 3 if args.require_gpu and not on_gpu else 0


if __name__ == "__main__":
    sys.exit(main())
