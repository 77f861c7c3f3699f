#!/usr/bin/env python3
"""Before and after, side by side: one benchmark script run on a base commit and on this tree, alternately.

    .venv/bin/python benchmarks/compare.py [--base main] [--rounds 2] SCRIPT [SCRIPT ARGS...]
    .venv/bin/python benchmarks/compare.py --base main bench_analyzers.py --repeat 20 --frames 100

The base commit is exported (``git archive``) into a scratch folder and put first on
``PYTHONPATH``, so the same (this tree's) benchmark script measures the base's code; its child
processes (``nanoaid batch``, pool and Dask workers) inherit that path. Runs alternate base, this
tree, base, this tree … so load that drifts on a shared machine hits both alike; each figure is
the median over rounds. SCRIPT must accept ``--json PATH``. Prints every numeric figure the
script's JSON holds, base beside this tree, and the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def export(ref: str, into: Path) -> Path:
    """The tree at ``ref`` under ``into``, with ``nanoaid_plugins`` importable from it."""
    tree = into / "base"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    (into / "pp").mkdir()
    (into / "pp" / "nanoaid_plugins").symlink_to(tree / "plugins")
    return tree


def run(script: Path, args: list[str], out: Path, pythonpath: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([sys.executable, str(script), *args, "--json", str(out)], env=env, text=True,
                          capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"{script.name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text())


def flatten(doc: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves by dotted path; list items are named by their 'name', 'threads' or position."""
    if isinstance(doc, bool):
        return {}
    if isinstance(doc, (int, float)):
        return {prefix: float(doc)}
    out: dict[str, float] = {}
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            tag = value.get("name", value.get("threads", i)) if isinstance(value, dict) else i
            out.update(flatten(value, f"{prefix}[{tag}]"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git ref measured as 'before' (default: main)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side, alternating")
    parser.add_argument("--json", type=Path, help="write both sides' medians here")
    parser.add_argument("script", help="a benchmarks/ script, e.g. bench_analyzers.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    opts = parser.parse_args()
    script = ROOT / "benchmarks" / Path(opts.script).name
    work = Path(tempfile.mkdtemp(prefix="nanoaid-compare-"))
    try:
        base = export(opts.base, work)
        base_path = os.pathsep.join([str(base), str(work / "pp")])
        sides: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
        for r in range(opts.rounds):
            for side in ("base", "this") if r % 2 == 0 else ("this", "base"):
                doc = run(script, opts.args, work / f"{side}-{r}.json", base_path if side == "base" else None)
                sides[side].append(flatten(doc))
                print(f"round {r + 1}/{opts.rounds}: {side} done", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    medians = {side: {k: statistics.median(run[k] for run in runs if k in run) for k in runs[0]}
               for side, runs in sides.items()}
    head = git_head()
    print(f"{script.name} {' '.join(opts.args)}: base {opts.base} vs this tree ({head}), "
          f"median of {opts.rounds} alternating runs each; load average now {os.getloadavg()[0]:.1f}")
    print(f"{'figure':<60}{'base':>12}{'this':>12}{'this/base':>11}")
    for key, before in medians["base"].items():
        after = medians["this"].get(key)
        if after is None:
            continue
        ratio = f"{after / before:.2f}" if before else "-"
        print(f"{key:<60}{before:>12.4g}{after:>12.4g}{ratio:>11}")
    if opts.json:
        opts.json.write_text(json.dumps({"base": opts.base, "this": head, "medians": medians}, indent=2) + "\n")
    return 0


def git_head() -> str:
    proc = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return proc.stdout.strip() + ("+changes" if dirty else "")


if __name__ == "__main__":
    sys.exit(main())
