"""``benchmarks/run_all.py`` finds every ``bench_*.py`` and collects their JSON; the batch benchmarks run."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from .helpers import REPO

RUN_ALL = REPO / "benchmarks" / "run_all.py"


def _script(folder, name, body):
    (folder / name).write_text(textwrap.dedent(body))


def test_run_all_runs_each_bench_script_and_collects_its_json(tmp_path):
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    _script(bench, "bench_ok.py", """
        import argparse, json, sys
        p = argparse.ArgumentParser(); p.add_argument("--json"); p.add_argument("--quick", action="store_true")
        a = p.parse_args()
        print("a table")
        open(a.json, "w").write(json.dumps({"quick": a.quick, "frames_per_s": 12.5}))
    """)
    _script(bench, "bench_broken.py", "import sys; sys.exit(3)\n")
    _script(bench, "helper_not_a_bench.py", "raise SystemExit('must not run')\n")
    _script(bench, "bench_legacy.py", """
        import argparse, json
        argparse.ArgumentParser().parse_args()
        print("a table, then its figures")
        print(json.dumps({"events_per_s": 9000}))
    """)
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(RUN_ALL), "--dir", str(bench), "--json", str(out), "--quick"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "FAILED: bench_broken.py" in proc.stdout
    doc = json.loads(out.read_text())
    entries = {e["script"]: e for e in doc["benchmarks"]}
    assert sorted(entries) == ["bench_broken.py", "bench_legacy.py", "bench_ok.py"]
    assert entries["bench_ok.py"]["result"] == {"quick": True, "frames_per_s": 12.5}
    assert entries["bench_legacy.py"]["result"] == {"events_per_s": 9000}
    assert entries["bench_legacy.py"]["convention"] is False and entries["bench_legacy.py"]["exit_code"] == 0
    assert "a table" in proc.stdout
    assert entries["bench_broken.py"]["exit_code"] == 3 and "no JSON" in entries["bench_broken.py"]["error"]

    proc = subprocess.run([sys.executable, str(RUN_ALL), "--dir", str(bench), "--json", str(out), "--only", "ok"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and [e["script"] for e in json.loads(out.read_text())["benchmarks"]] == ["bench_ok.py"]


@pytest.mark.slow
def test_batch_and_latency_benchmarks_run_and_report_every_figure(tmp_path):
    # an empty models folder keeps the smoke run cheap: the model-based sections report their error
    empty = tmp_path / "no-models"
    empty.mkdir()
    runs = {"batch": ["--models", str(empty)], "latency": []}
    results = {}
    for name, extra in runs.items():
        out = tmp_path / f"{name}.json"
        proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / f"bench_{name}.py"), "--quick", "--json",
                               str(out), *extra], capture_output=True, text=True, timeout=300, cwd=REPO)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert ("frames/s" if name == "batch" else "median ms") in proc.stdout
        results[name] = json.loads(out.read_text())
    batch = results["batch"]
    assert [r["name"] for r in batch["runs"]] == ["pool-1", "pool-2", "dask-1", "dask-2"]
    assert set(batch["ratios"]) >= {"pipeline_over_floor_cpu", "paper_over_ours", "speedup_pool", "speedup_dask"}
    assert all(r["max_rss_mb_per_worker"] for r in batch["runs"])
    assert batch["models"] == f"models from {empty}" and "classification" in batch["plugins"]["errors"]
    latency = results["latency"]
    assert [r["mode"] for r in latency["runs"]] == ["inplace", "rename"]
    assert all(r["events"] == r["frames"] and r["median_ms"] is not None for r in latency["runs"])
