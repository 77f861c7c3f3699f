#!/usr/bin/env python3
"""Median time to read pixels + metadata of a 1024×768 vendor TIFF, next to tifffile's bare imread.

    python benchmarks/bench_readers.py [--repeat 200]

``host.read`` is what the daemon does per frame (sniff every reader, read with the best one);
``reader.read`` skips the sniffing. The ratio compares ``host.read`` with ``tifffile.imread`` of
the same file (pixels only, no metadata, no databar, no palette mapping). Goal: under 5 ms.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "readers"))

from reader_synth import fei_ini, sem_image, write_fei, write_tescan  # noqa: E402

from nanoaid_daemon.config import Settings  # noqa: E402
from nanoaid_daemon.host import PluginHost  # noqa: E402

REAL_SEM = Path(os.environ.get("NANOAID_REAL_SEM", ROOT.parent / "shared" / "data" / "real-sem"))  # as the tests
SHARED_ZEISS = REAL_SEM / "rosettasciio" / "test_tiff_Zeiss_SEM_1k.tif"


def median_ms(fn, repeat: int) -> float:
    fn()  # warm caches and imports
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def candidates(folder: Path) -> list[tuple[str, Path]]:
    files = []
    if SHARED_ZEISS.is_file():
        files.append(("zeiss 1k (real, palette)", SHARED_ZEISS))
    ini = fei_ini(User={"Date": "01/02/2024", "Time": "01:02:03 PM"}, Beam={"HV": "5000", "Beam": "EBeam"},
                  EBeam={"WD": "0.004", "HFW": "1e-5"}, Scan={"PixelWidth": "1e-8", "Dwelltime": "1e-6"},
                  Image={"ResolutionX": "1024", "ResolutionY": "704"})
    fei = write_fei(folder / "fei.tif", ini, image=sem_image(768, 1024, databar=64))
    files.append(("fei (synthetic, databar)", fei))
    sections = {"MAIN": {"Date": "2024-01-31", "Time": "08:15:00", "PixelSizeX": "5e-9", "ImageStripSize": "64"},
                "SEM": {"HV": "10000", "WD": "0.006"}}
    files.append(("tescan (synthetic, 16-bit)",
                  write_tescan(folder / "tescan.tif", sections, sem_image(768, 1024, databar=64, dtype=np.uint16))))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    host = PluginHost.load(Settings(), kinds=("reader",))
    print(f"reader benchmark: median of {args.repeat} reads of 1024x768 vendor TIFFs")
    print(f"{'file':30} {'host.read':>10} {'reader.read':>12} {'tifffile.imread':>16} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in candidates(Path(tmp)):
            reader = host.pick_reader(path).obj
            ours = median_ms(lambda path=path: host.read(path), args.repeat)
            direct = median_ms(lambda path=path, reader=reader: reader.read(path), args.repeat)
            bare = median_ms(lambda path=path: tifffile.imread(path), args.repeat)
            print(f"{label:30} {ours:8.3f}ms {direct:10.3f}ms {bare:14.3f}ms {ours / bare:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
