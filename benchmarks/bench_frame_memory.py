"""Peak memory and time of one large frame through `nanoaid process` (docs/readers.md's table).

Writes 8-bit TIFFs of oriented stripes (strips of 64 rows, never holding the frame) into a
temporary folder, runs `/usr/bin/time -v NANOAID process FRAME --output OUT --json` on each and
prints the peak RSS, the wall time and the alignment orientation. `--nanoaid` points at another
checkout's entry point to compare (e.g. ../main/.venv/bin/nanoaid).

    .venv/bin/python benchmarks/bench_frame_memory.py [--sizes 8192 16384] [--nanoaid PATH] [--json PATH] [--quick]
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tifffile


def write_frame(path: Path, side: int) -> None:
    """Stripes at 30° (period 40 px) plus noise, written strip by strip."""
    rng = np.random.default_rng(0)
    x = np.arange(side, dtype=np.float32)[None, :]

    def strips() -> Iterator[np.ndarray]:
        for y0 in range(0, side, 64):
            y = np.arange(y0, min(side, y0 + 64), dtype=np.float32)[:, None]
            v = 128 + 80 * np.sin((x * 0.5 + y * 0.8660254) * 2 * np.pi / 40) + rng.normal(0, 10, (len(y), side))
            yield np.clip(v, 0, 255).astype(np.uint8)

    tifffile.imwrite(path, strips(), shape=(side, side), dtype=np.uint8, rowsperstrip=64)


def measure(nanoaid: str, frame: Path, out: Path) -> tuple[float, float, dict]:
    """(peak RSS in GB, wall seconds, the sidecar) of one `process` run."""
    run = subprocess.run(["/usr/bin/time", "-v", nanoaid, "process", str(frame), "--output", str(out), "--json"],
                         capture_output=True, text=True, check=True)
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))  # type: ignore[union-attr]
    wall = re.search(r"Elapsed \(wall clock\) time .*: (?:(\d+):)?(\d+):([\d.]+)", run.stderr)
    assert wall is not None
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    sidecar = json.loads(run.stdout)
    return peak_kb / 1e6, seconds, sidecar[0] if isinstance(sidecar, list) else sidecar


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[8192, 16384])
    ap.add_argument("--nanoaid", default=str(Path(sys.executable).with_name("nanoaid")))
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--quick", action="store_true", help="one 4096² frame (a smoke run)")
    args = ap.parse_args()
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for side in [4096] if args.quick else args.sizes:
            frame = Path(tmp) / f"big{side}.tif"
            write_frame(frame, side)
            peak, seconds, sidecar = measure(args.nanoaid, frame, Path(tmp) / f"out{side}")
            alignment = sidecar.get("alignment") or {}
            factor = alignment.get("method", {}).get("decimation", {}).get("factor", 1)
            print(f"{side}²: peak RSS {peak:.2f} GB, {seconds:.1f} s, status {sidecar['status']}, "
                  f"orientation {alignment.get('orientation_deg')}°, decimation {factor}")
            figures.append({"side_px": side, "peak_rss_gb": round(peak, 3), "wall_s": round(seconds, 2),
                            "status": sidecar["status"], "decimation": factor})
            frame.unlink()
    if args.json:
        args.json.write_text(json.dumps({"frames": figures}, indent=2) + "\n")


if __name__ == "__main__":
    main()
