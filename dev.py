#!/usr/bin/env python3
"""Developer entry point that needs nothing but Python 3.10+.

    python3 dev.py demo      # the whole flow on generated frames (creates .venv on first use)
    python3 dev.py test      # the test suite (installs the dev and training extras)
    python3 dev.py lint      # ruff check + mypy (configured in pyproject.toml); CI runs it first
    python3 dev.py models    # rebuild the shipped models from scratch (CPU, deterministic)
    python3 dev.py bench     # every benchmark in benchmarks/

Each task creates or refreshes ``.venv`` when pyproject.toml/setup.py changed, then runs in it.
Arguments after the task are passed on (e.g. ``python3 dev.py test -k journal``).
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
# torch is pinned to the CPU build that machines of this project carry as a local wheel.
TORCH = "torch==2.13.0"
ALL = "dev,train,upload,batch,nexus,rocrate"
EXTRAS = {"demo": "", "test": ALL, "lint": ALL, "models": "train", "bench": ALL}


def _stamp(extras: str) -> str:
    digest = hashlib.sha256(extras.encode())
    for name in ("pyproject.toml", "setup.py"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_env(extras: str) -> None:
    stamp_file = VENV / f".nanoaid-{extras.replace(',', '-') or 'base'}"
    if stamp_file.exists() and stamp_file.read_text() == _stamp(extras):
        return
    if not PY.exists():
        print(f"dev.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    target = f".[{extras}]" if extras else "."
    cmd = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", target]
    if "train" in extras:
        cmd.append(TORCH)
    print(f"dev.py: installing {target} into .venv (first run takes a minute)", flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    stamp_file.write_text(_stamp(extras))


def lint(paths: list[str]) -> int:
    """ruff, then mypy over the installed dependencies' types; mypy's error count is printed either way."""
    ruff = subprocess.run([str(PY), "-m", "ruff", "check", *(paths or ["."])], cwd=ROOT).returncode
    mypy = subprocess.run([str(PY), "-m", "mypy", *paths], cwd=ROOT, capture_output=True, text=True)
    sys.stdout.write(mypy.stdout)
    sys.stderr.write(mypy.stderr)
    found = re.search(r"^Found (\d+) errors?", mypy.stdout, re.MULTILINE)
    errors = int(found.group(1)) if found else (0 if mypy.returncode == 0 else -1)
    print(f"dev.py lint: ruff {'clean' if ruff == 0 else 'found problems'}; mypy errors: "
          f"{errors if errors >= 0 else 'unknown (mypy failed, see above)'}", flush=True)
    return 1 if ruff or mypy.returncode else 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in EXTRAS:
        print(__doc__)
        return 2
    task, rest = argv[0], argv[1:]
    ensure_env(EXTRAS[task])
    if task == "lint":
        return lint(rest)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if task == "demo":
        cmd = [str(BIN / "nanoaid"), "demo", *rest]
    elif task == "test":
        cmd = [str(PY), "-m", "pytest", *rest]
    elif task == "models":
        # the shipped classifier's head also learns from the dev set's committed real frames (docs/devset.md)
        cmd = [str(BIN / "nanoaid"), "train", "all", "--devset", "datasets/devset/manifest.csv", *rest]
    else:
        cmd = [str(PY), str(ROOT / "benchmarks" / "run_all.py"), *rest]
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
