#!/usr/bin/env python3
"""Catalogue at scale: ingest rate of sidecars and query times at 100,000 catalogued frames.

    python benchmarks/bench_catalogue.py                # 100,000 frames
    python benchmarks/bench_catalogue.py --frames 20000 --json

Sidecars are generated with the real models (varied labels, scores, instruments, times), turned
into JSON, then ingested as the catalogue ingests them: parse + validate each JSON document into a
``Sidecar`` and index it, in transactions of ``--batch``. A second, smaller run reads the sidecars
from files on disk, the way ``nanoaid catalogue rebuild --sidecars`` does. Queries run repeatedly
(whole result fetched); the median and 95th percentile are printed. Goals: ingest ≥ 2,000
sidecars/s, indexed query median ≤ 10 ms.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nanoaid_daemon.metadata import Instrument, Kilovolts, Nanometres, PixelSize  # noqa: E402
from nanoaid_daemon.sidecar import (  # noqa: E402
    CLASSES,
    Alignment,
    Classification,
    Correction,
    FrameInfo,
    Histogram,
    ModelRef,
    Provenance,
    Sidecar,
    Software,
    Thresholds,
)
from nanoaid_daemon.uploader.catalogue import Catalogue  # noqa: E402
from nanoaid_daemon.uploader.rebuild import RebuildReport, from_folders, rebuild  # noqa: E402

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
QUERIES = [
    "label:Nanowires coherency>0.8 mag>10k after:7d",
    "label:Particles decision:review",
    "operator:op17 after:30d",
    "score.Tips>0.9",
    "detector:InLens kv<=2 pixel<1",
    "corrected:yes",
    "wafer_0004*",
    "sample:batch-42 -decision:accepted",
]


def make_sidecar(i: int, rng: random.Random) -> Sidecar:
    label = rng.choice(CLASSES)
    top = rng.uniform(0.2, 1.0)
    rest = (1 - top) / (len(CLASSES) - 1)
    decision = "accepted" if top >= 0.8 else "review" if top >= 0.35 else "unknown"
    name = f"{rng.choice(['wafer', 'grid', 'run'])}_{i:07d}.tif"
    return Sidecar(
        frame=FrameInfo(name=name, path=f"2026/{i // 1000:03d}/{name}",
                        sha256=hashlib.sha256(str(i).encode()).hexdigest(),
                        size_bytes=4_000_000, media_type="image/tiff", width_px=2048, height_px=1536, dtype="uint16",
                        pages=1, databar_rows=64, reader="zeiss"),
        instrument=Instrument(
            vendor=rng.choice(["Zeiss", "Thermo Fisher/FEI", "JEOL", "Hitachi"]),
            model=rng.choice(["GeminiSEM 500", "Helios G4", "JSM-7800F", "Regulus 8230"]), serial=f"SEM-{i % 7}",
            operator=f"op{rng.randrange(40)}", sample=f"batch-{rng.randrange(200)}",
            acquired_at=NOW - timedelta(minutes=5 * i), detector=rng.choice(["SE2", "InLens", "ETD", "BSE"]),
            beam_energy=Kilovolts(value=rng.choice([1.0, 2.0, 5.0, 10.0, 15.0])),
            magnification=rng.choice([500.0, 2000.0, 10000.0, 25000.0, 100000.0]),
            pixel_size=PixelSize(x=Nanometres(value=rng.choice([0.5, 2.0, 10.0])),
                                 y=Nanometres(value=rng.choice([0.5, 2.0, 10.0])))),
        classification=Classification(model=ModelRef(name="nffa", version="1", sha256="a" * 64),
                                      scores={c: (top if c == label else rest) for c in CLASSES}, label=label,
                                      score=top, decision=decision, thresholds=Thresholds()),
        alignment=Alignment(coherency=rng.random(), orientation_deg=rng.uniform(-90, 90), aligned_fraction=rng.random(),
                            histogram=Histogram(bin_width_deg=10, start_deg=-90, counts=[1 / 18] * 18)),
        provenance=Provenance(software=Software(version="0.1.0"), config_hash="c" * 64),
        corrections=[Correction(label="Tips", previous_label=label, operator="curator", comment="needle apex",
                                time=NOW)] if i % 100 == 7 else [],
    )


def ingest(catalogue: Catalogue, documents: list[str], batch: int) -> float:
    start = time.perf_counter()
    for lo in range(0, len(documents), batch):
        catalogue.upsert_many((Sidecar.model_validate_json(doc), {"location": f"/archive/{lo}", "version": 1})
                              for doc in documents[lo:lo + batch])
    return time.perf_counter() - start


def ingest_files(work: Path, documents: list[str]) -> tuple[int, float]:
    folder = work / "sidecars"
    folder.mkdir()
    for i, doc in enumerate(documents):
        (folder / f"s{i:07d}.tif.nanoaid.json").write_text(doc)
    with Catalogue(work / "files.sqlite3") as catalogue:
        report = RebuildReport()
        start = time.perf_counter()
        count = rebuild(catalogue, from_folders([folder], {}, report))
        return count, time.perf_counter() - start


def _median_p95(catalogue: Catalogue, query: str, repeat: int, limit: int | None) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        catalogue.search(query, now=NOW, limit=limit)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return round(statistics.median(samples), 3), round(samples[int(0.95 * (len(samples) - 1))], 3)


def time_queries(catalogue: Catalogue, repeat: int) -> list[dict]:
    results = []
    for query in QUERIES:
        hits = len(catalogue.search(query, now=NOW))
        median, p95 = _median_p95(catalogue, query, repeat, None)
        first100, _ = _median_p95(catalogue, query, repeat, 100)
        results.append({"query": query, "hits": hits, "median_ms": median, "p95_ms": p95,
                        "first_100_median_ms": first100})
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--file-frames", type=int, default=5_000, help="sidecars read from files (0: skip)")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(42)
    made = time.perf_counter()
    documents = [make_sidecar(i, rng).to_json() for i in range(args.frames)]
    made = time.perf_counter() - made
    with tempfile.TemporaryDirectory() as tmp:
        with Catalogue(Path(tmp) / "catalogue.sqlite3") as catalogue:
            seconds = ingest(catalogue, documents, args.batch)
            queries = time_queries(catalogue, args.repeat)
            count = catalogue.count()
        file_count, file_seconds = ingest_files(Path(tmp), documents[:args.file_frames]) if args.file_frames else (0, 0)
    report = {
        "frames": count, "generate_s": round(made, 1),
        "ingest_per_s": round(args.frames / seconds), "ingest_s": round(seconds, 2),
        "ingest_from_files_per_s": round(file_count / file_seconds) if file_seconds else None,
        "queries": queries,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"catalogue: {count} frames (generated in {report['generate_s']} s)")
    print(f"ingest (parse + validate + index): {report['ingest_per_s']} sidecars/s "
          f"({report['ingest_s']} s; goal >= 2000/s)")
    if file_count:
        print(f"ingest from {file_count} files on disk (catalogue rebuild --sidecars): "
              f"{report['ingest_from_files_per_s']} sidecars/s")
    print("query times, all hits fetched as dicts (median, p95) and the first 100 hits (--limit 100, median):")
    print(f"{'query':<52} {'hits':>7} {'median ms':>10} {'p95 ms':>8} {'first 100':>10}")
    for q in queries:
        print(f"{q['query']:<52} {q['hits']:>7} {q['median_ms']:>10.3f} {q['p95_ms']:>8.3f} "
              f"{q['first_100_median_ms']:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
