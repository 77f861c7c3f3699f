#!/usr/bin/env python3
"""Batch throughput: frames/s and CPU seconds per frame, 1 and 2 workers, local pool and local Dask.

    .venv/bin/python benchmarks/bench_batch.py [--frames 300] [--size 1024x768] [--repeat 3] [--json out.json]

Measured on a generated archive of unique 8-bit TIFF frames (page cache warm: the archive is read
once before anything is timed), each configuration on a fresh state and output folder:

* the I/O floor: read + sha256 of every frame (what any reprocessing must do at least);
* ``nanoaid batch`` as a real process with a local pool and a local Dask cluster of 1 and 2 workers:
  frames/s and CPU seconds per frame (driver plus every worker process, from the OS's accounting
  of waited-for children), marginal over a run on 8 frames that gives the fixed start-up cost
  (interpreters, worker processes, model loading), and peak memory per worker;
* ratios: pipeline CPU over the floor's, the paper's ~3.6 core-seconds per image (150 core-hours
  for ~150,000 images on Spark) over ours, and the 1 → 2 worker speed-up.

The batch runs whatever analyzer plugins are installed, so the figures follow the pipeline as it
grows; the report says which plugins ran.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import tifffile

MODELS_DIR: Path | None = None
PAPER_CORE_S_PER_IMAGE = 150 * 3600 / 150_000  # 3.6
MODEL_NAMES = ("nffa-classifier", "sem-autoencoder")


def pick_models(explicit: Path | None, scratch: Path) -> tuple[Path, str]:
    """``--models`` as given; else the shipped models when present, else stand-ins of the same
    contract and cost (random weights: what they say means nothing, what they cost is real)."""
    from nanoaid_daemon.config import default_models_dir

    if explicit is not None:
        return explicit, f"models from {explicit}"
    folder = default_models_dir()
    if all((folder / f"{n}.card.json").is_file() for n in MODEL_NAMES):
        return folder, f"models from {folder}"
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from standin_models import build_standins

    with warnings.catch_warnings():  # the ONNX exporter's chatter
        warnings.simplefilter("ignore")
        built = build_standins(scratch / "models")
    return built, ("STAND-IN models (no shipped models/): EfficientNet-lite0 224 classifier + 4-level conv "
                   "autoencoder 256, random weights")


def make_frames(folder: Path, count: int, shape: tuple[int, int]) -> list[Path]:
    paths = []
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = ((np.sin(xx / 17.0) + np.cos(yy / 23.0)) * 60 + 128).astype(np.int16)
    for i in range(count):
        rng = np.random.default_rng(i)
        noisy = np.clip(base + rng.normal(0, 20, shape), 0, 255).astype(np.uint8)
        path = folder / f"run-{i % 8}" / f"frame_{i:05d}.tif"
        path.parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(path, noisy)
        paths.append(path)
    return paths


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _hash_many(paths: list[str]) -> int:
    from nanoaid_daemon.hashing import sha256_file

    return sum(sha256_file(Path(p))[1] for p in paths)


def io_floor(paths: list[Path], workers: int) -> dict:
    """Read + hash every frame on ``workers`` processes (start-up excluded: the pool is warmed first)."""
    chunks = [list(map(str, paths[i::workers * 8])) for i in range(workers * 8)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_hash_many, [[str(paths[0])]] * workers))  # start the processes
        cpu0, t0 = _children_cpu(), time.perf_counter()
        total = sum(pool.map(_hash_many, chunks))
        wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0  # workers are joined on shutdown, so their time is counted now
    return {"workers": workers, "frames": len(paths), "bytes": total, "wall_s": wall,
            "frames_per_s": len(paths) / wall, "cpu_s_per_frame": cpu / len(paths),
            "mb_per_s": total / wall / 1e6}


def _batch(archive: Path, work: Path, name: str, engine: list[str], pool: int | None) -> tuple[dict, float, float]:
    """One real ``nanoaid batch`` process: (its summary, wall seconds, CPU seconds of the whole tree)."""
    state, out = work / f"state-{name}", work / f"out-{name}"
    env = dict(os.environ, PYTHONUNBUFFERED="1", NANOAID_MODELS__DIR=str(MODELS_DIR))
    if pool:
        env["NANOAID_PIPELINE__CPU_BUDGET"] = str(pool)
    cmd = [sys.executable, "-m", "nanoaid_daemon.cli", "batch", str(archive), "--state", str(state),
           "--output", str(out), "--json", "--progress-interval", "3600", *engine]
    cpu0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"{name}: batch failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    summary = json.loads(proc.stdout.splitlines()[-1])
    summary["plugins"] = _plugins(out)
    return summary, wall, cpu


def _median_run(archive: Path, work: Path, name: str, engine: list[str], pool: int | None,
                repeat: int) -> tuple[dict, float, float]:
    runs = [_batch(archive, work, f"{name}-{i}", engine, pool) for i in range(repeat)]
    return runs[0][0], statistics.median(r[1] for r in runs), statistics.median(r[2] for r in runs)


def run_batch(archive: Path, tiny: Path, work: Path, name: str, engine: list[str], pool: int | None,
              repeat: int) -> dict:
    """Per-frame figures are marginal: a run on a tiny archive gives the fixed start-up cost
    (interpreter, worker processes, model loading), the full run minus it the cost per frame.
    Each is the median of ``repeat`` runs (the machine is shared; single runs are noisy)."""
    small, small_wall, small_cpu = _median_run(tiny, work, name + "-tiny", engine, pool, repeat)
    full, wall, cpu = _median_run(archive, work, name, engine, pool, repeat)
    n, k = full["processed"], small["processed"]
    rss = [w["max_rss_mb"] for w in full["workers"].values() if w["max_rss_mb"] is not None]
    return {"name": name, "engine": full["engine"], "frames": n, "chunk_size": full["chunk_size"],
            "wall_s": wall, "frames_per_s_all_in": n / wall, "frames_per_s": (n - k) / (wall - small_wall),
            "cpu_s_all_in": cpu, "startup_cpu_s": small_cpu - k * (cpu - small_cpu) / (n - k),
            "cpu_s_per_frame": (cpu - small_cpu) / (n - k), "task_cpu_s_per_frame": full["worker_cpu_s"] / n,
            "worker_processes": len(full["workers"]), "max_rss_mb_per_worker": max(rss) if rss else None,
            "plugins": full["plugins"]}


def _plugins(out: Path) -> dict:
    """Plugins that ran, and the sections that came back with an error (e.g. a model missing)."""
    first = next(out.rglob("*.nanoaid.json"), None)
    if first is None:
        return {}
    doc = json.loads(first.read_text())
    return {"ran": doc["provenance"]["plugins"], "errors": sorted(doc.get("errors", {}))}


def durable_write_ms(folder: Path, count: int = 50) -> float:
    """One atomic sidecar write (temp → fsync → rename → fsync dir): what bounds wall time on slow disks."""
    from nanoaid_daemon.atomic import atomic_write_text

    t0 = time.perf_counter()
    for i in range(count):
        atomic_write_text(folder / f"probe-{i}.json", "{}\n" * 400)
    return (time.perf_counter() - t0) / count * 1000


def table(result: dict) -> str:
    lines = [f"batch benchmark: {result['frames']} frames {result['size']} uint8 on {result['cpus']} cores "
             f"(load average before: {result['load_before']})", "",
             f"{'configuration':<34}{'frames/s':>10}{'CPU s/frame':>14}{'MB RSS/worker':>15}{'start-up CPU s':>16}"]
    for f in result["floor"]:
        lines.append(f"{'I/O floor (read+hash), ' + str(f['workers']) + ' proc':<34}{f['frames_per_s']:>10.1f}"
                     f"{f['cpu_s_per_frame']:>14.5f}{'':>15}")
    for r in result["runs"]:
        rss = f"{r['max_rss_mb_per_worker']:.0f}" if r["max_rss_mb_per_worker"] else "-"
        lines.append(f"{r['engine']:<34}{r['frames_per_s']:>10.1f}{r['cpu_s_per_frame']:>14.5f}{rss:>15}"
                     f"{r['startup_cpu_s']:>16.2f}")
    ratios = result["ratios"]
    lines += ["(batch rows: marginal figures, a run on 8 frames gives the fixed start-up cost)", "",
              f"pipeline CPU / floor CPU (1 worker pool):      {ratios['pipeline_over_floor_cpu']:.1f}x",
              f"paper 3.6 core-s/image / ours (2 worker pool): {ratios['paper_over_ours']:.0f}x less CPU",
              f"1 -> 2 workers speed-up: pool {ratios['speedup_pool']:.2f}x, Dask {ratios['speedup_dask']:.2f}x",
              f"durable sidecar write (2 fsyncs): {result['durable_write_ms']:.2f} ms",
              f"models: {result['models']}",
              f"plugins that ran: {result['plugins']['ran']}; sections with errors: {result['plugins']['errors']}"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration (the median is kept)")
    parser.add_argument("--size", default="1024x768", help="WIDTHxHEIGHT of each frame")
    parser.add_argument("--models", type=Path,
                        help="models folder, used as it is (default: the shipped models/, else stand-ins)")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--quick", action="store_true", help="one small run (80 frames of 256x192): a smoke check")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.size, args.repeat = 80, "256x192", 1
    width, height = map(int, args.size.lower().split("x"))
    work = Path(tempfile.mkdtemp(prefix="nanoaid-bench-batch-"))
    try:
        global MODELS_DIR
        MODELS_DIR, models_note = pick_models(args.models, work)
        archive = work / "archive"
        paths = make_frames(archive, args.frames, (height, width))
        tiny = work / "tiny"
        make_frames(tiny, 8, (height, width))
        _hash_many(list(map(str, paths)))  # warm the page cache for every configuration alike
        result = {"frames": args.frames, "size": args.size, "cpus": os.cpu_count(), "repeat": args.repeat,
                  "models": models_note,
                  "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()), "python": platform.python_version(),
                  "floor": [io_floor(paths, w) for w in (1, 2)], "runs": []}
        configs = [("pool-1", [], 1), ("pool-2", [], 2), ("dask-1", ["--workers", "1"], None),
                   ("dask-2", ["--workers", "2"], None)]
        for name, engine, pool in configs:
            result["runs"].append(run_batch(archive, tiny, work, name, engine, pool, args.repeat))
        runs = {r["name"]: r for r in result["runs"]}
        result["durable_write_ms"] = durable_write_ms(work)
        result["plugins"] = runs["pool-1"]["plugins"]
        result["ratios"] = {
            "pipeline_over_floor_cpu": runs["pool-1"]["cpu_s_per_frame"] / result["floor"][0]["cpu_s_per_frame"],
            "pipeline_over_floor_wall": result["floor"][0]["frames_per_s"] / runs["pool-1"]["frames_per_s"],
            "paper_over_ours": PAPER_CORE_S_PER_IMAGE / runs["pool-2"]["cpu_s_per_frame"],
            "speedup_pool": runs["pool-2"]["frames_per_s"] / runs["pool-1"]["frames_per_s"],
            "speedup_dask": runs["dask-2"]["frames_per_s"] / runs["dask-1"]["frames_per_s"],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
