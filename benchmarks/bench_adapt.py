"""Time to adapt from 10 / 50 / 200 support frames, and the added inference cost per frame.

Support frames are real generated frames embedded by the shipped classifier (augmented views
included, as `nanoaid models adapt` does); the fit (cross-validation, calibration, ONNX export)
is timed separately from embedding. The added cost per frame compares the adapted ONNX file with
the shipped one on the same batch-of-one input (median of repeated runs, one intra-op thread).

    .venv/bin/python benchmarks/bench_adapt.py [--sizes 10,50,200] [--json PATH] [--quick]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from nanoaid_daemon.adaptation.build import SupportFrame, fit_and_write
from nanoaid_daemon.adaptation.fit import Support
from nanoaid_daemon.adaptation.support import embed_frames
from nanoaid_daemon.config import default_models_dir
from nanoaid_daemon.inference import Runtime
from nanoaid_daemon.sidecar import CLASSES
from nanoaid_daemon.synth import render


def _support(model, n: int) -> tuple[Support, list[SupportFrame], float]:
    frames = [(render(CLASSES[i % 10], seed=4000 + i, size=(192, 256), bits=8, databar=False).image, i % 10)
              for i in range(n)]
    started = time.perf_counter()
    support = embed_frames(model, frames)
    return support, [SupportFrame(f"{i:064x}", lab, str(i)) for i, (_, lab) in enumerate(frames)], \
        time.perf_counter() - started


def _latency(runtime: Runtime, shipped: Path, adapted: Path, reps: int = 60) -> tuple[float, float, float]:
    """Median ms per frame of both files, runs interleaved so machine load hits both alike, and the
    median of the per-pair differences (the added cost; noisy on a busy machine)."""
    models = [runtime.load_file(shipped), runtime.load_file(adapted)]
    x = np.random.default_rng(0).normal(size=(1, 3, 224, 224)).astype(np.float32)
    times: list[list[float]] = [[], []]
    for _ in range(reps):
        for i, model in enumerate(models):
            t = time.perf_counter()
            model.infer(x)
            times[i].append((time.perf_counter() - t) * 1000)
    diffs = [b - a for a, b in zip(times[0], times[1], strict=True)]
    return statistics.median(times[0]), statistics.median(times[1]), statistics.median(diffs)


def _head_only_ms(result, reps: int = 200) -> float:
    """The same arithmetic the added ONNX ops do (head, prior mix, distance), in numpy, per frame."""
    from nanoaid_daemon.adaptation.fit import predict
    from nanoaid_daemon.adaptation.head import unit

    emb = np.random.default_rng(1).normal(size=(1, 1280))
    base = np.full((1, 10), 0.1)
    t = time.perf_counter()
    for _ in range(reps):
        x = unit(emb)
        predict(result.adapted.head, x, base)
        result.adapted.distance.score(x)
    return (time.perf_counter() - t) * 1000 / reps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,50,200")
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here as JSON")
    ap.add_argument("--quick", action="store_true", help="10 support frames only (a smoke run)")
    args = ap.parse_args()
    if args.quick:
        args.sizes = "10"
    runtime = Runtime(default_models_dir(), providers=["CPUExecutionProvider"], threads=2)
    base = runtime.model("nffa-classifier")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            support, frames, embed_s = _support(base, n)
            started = time.perf_counter()
            result = fit_and_write(support, frames, Path(tmp) / f"n{n}", base, name="bench", version=str(n))
            fit_s = time.perf_counter() - started
            rows.append({"support_frames": n, "embed_s": round(embed_s, 2), "fit_and_export_s": round(fit_s, 2),
                         "total_s": round(embed_s + fit_s, 2)})
        runtime1 = Runtime(default_models_dir(), providers=["CPUExecutionProvider"], threads=1)
        shipped, adapted, added = _latency(runtime1, default_models_dir() / "nffa-classifier.card.json",
                                           result.card_path)
        head_ms = _head_only_ms(result)
    report = {"adapt": rows, "inference_ms": {"shipped": round(shipped, 2), "adapted": round(adapted, 2),
                                              "added": round(added, 2), "head_ops_numpy": round(head_ms, 3)}}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for r in rows:
        print(f"{r['support_frames']:>4} support frames: embed {r['embed_s']:6.1f} s + fit/calibrate/export "
              f"{r['fit_and_export_s']:5.1f} s = {r['total_s']:6.1f} s")
    ms = report["inference_ms"]
    print(f"inference per frame (1 thread, median, interleaved): shipped {ms['shipped']} ms, adapted {ms['adapted']} "
          f"ms, added {ms['added']} ms (median pair difference); the head's arithmetic alone: "
          f"{ms['head_ops_numpy']} ms")


if __name__ == "__main__":
    main()
