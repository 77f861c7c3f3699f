#!/usr/bin/env python3
"""Run every benchmark in this folder and collect their figures in one JSON file.

    python3 dev.py bench [--quick] [--only NAME] [--json results.json]
    .venv/bin/python benchmarks/run_all.py [same options]

Convention for a benchmark script: it is named ``bench_<what>.py``, runs with no arguments, prints
a table a person can read, writes its figures as JSON when given ``--json PATH``, and takes
``--quick`` for a small smoke run (figures from a quick run are not worth quoting). Its exit code
is 0 when it measured what it set out to measure. Each script runs in its own process, one after
the other, so their measurements do not disturb each other. A script that refuses those options
(argparse: "unrecognized arguments") is run without them; if its last line of output is a JSON
object that is its result, otherwise the end of its table is kept.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover(folder: Path, only: list[str] | None = None) -> list[Path]:
    scripts = sorted(folder.glob("bench_*.py"))
    if only:
        scripts = [s for s in scripts if s.stem in only or s.stem.removeprefix("bench_") in only]
    return scripts


def _run(cmd: list[str], cwd: Path) -> tuple[int, list[str], str]:
    """Run a script, showing its stdout as it comes; returns (exit code, stdout lines, stderr)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line.rstrip("\n"))
    err = proc.stderr.read()
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    if err:
        print(err, end="", file=sys.stderr, flush=True)
    return proc.returncode, lines, err


def _last_json(lines: list[str]) -> dict | None:
    filled = [ln for ln in lines if ln.strip()]
    try:
        doc = json.loads(filled[-1]) if filled else None
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def run_one(script: Path, quick: bool, scratch: Path) -> dict:
    out = scratch / f"{script.stem}.json"
    print(f"\n=== {script.name}{' (quick)' if quick else ''}", flush=True)
    started = time.monotonic()
    code, lines, err = _run([sys.executable, str(script), "--json", str(out), *(["--quick"] if quick else [])],
                            script.parent.parent)
    entry: dict = {"script": script.name, "convention": True}
    if code == 2 and "unrecognized arguments" in err:
        # A script that predates the convention: run it as it is, keep its last line if that is JSON.
        print(f"({script.name} does not take --json PATH/--quick yet: run without them)", flush=True)
        code, lines, err = _run([sys.executable, str(script)], script.parent.parent)
        entry["convention"] = False
        result = _last_json(lines)
        if result is not None:
            entry["result"] = result
        else:
            entry["table"] = "\n".join(lines[-60:])
    else:
        try:
            entry["result"] = json.loads(out.read_text())
        except FileNotFoundError:
            entry["error"] = "wrote no JSON (does it take --json PATH?)"
        except ValueError as exc:
            entry["error"] = f"wrote invalid JSON: {exc}"
    entry.update(exit_code=code, wall_s=round(time.monotonic() - started, 1))
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script (smoke run)")
    parser.add_argument("--only", action="append", metavar="NAME", help="run only bench_NAME.py (repeatable)")
    parser.add_argument("--json", type=Path, default=HERE / "results.json",
                        help="collected figures (default: %(default)s)")
    parser.add_argument("--dir", type=Path, default=HERE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    scripts = discover(args.dir, args.only)
    if not scripts:
        print(f"no bench_*.py in {args.dir}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="nanoaid-bench-") as scratch:
        entries = [run_one(script, args.quick, Path(scratch)) for script in scripts]
    failed = [e["script"] for e in entries if e["exit_code"] != 0 or "error" in e]
    doc = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "host": platform.node(),
           "python": platform.python_version(), "quick": args.quick, "benchmarks": entries}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\n{len(entries) - len(failed)}/{len(entries)} benchmarks ran; figures in {args.json}"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
