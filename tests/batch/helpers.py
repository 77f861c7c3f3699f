"""Helpers for batch tests: a synthetic archive, a probe analyzer plugin, the CLI as a real process."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile

from nanoaid_daemon.atomic import TEMP_SUFFIX
from nanoaid_daemon.journal import Journal
from nanoaid_daemon.sidecar import Sidecar

REPO = Path(__file__).resolve().parents[2]


def tiff_bytes(seed: int, shape=(128, 128)) -> bytes:
    rng = np.random.default_rng([seed, 8])
    buf = io.BytesIO()
    tifffile.imwrite(buf, rng.integers(0, 256, shape, dtype=np.uint8))
    return buf.getvalue()


@dataclass
class Archive:
    root: Path
    frames: list[Path] = field(default_factory=list)  # unique content
    corrupt: list[Path] = field(default_factory=list)
    copies: list[Path] = field(default_factory=list)  # same bytes as a frame

    @property
    def all_files(self) -> list[Path]:
        return sorted(self.frames + self.corrupt + self.copies)


def make_archive(root: Path, frames: int, *, corrupt: bool = True, copies: int = 1, seed: int = 0) -> Archive:
    """Frames in nested session folders, a few broken files, and copies of existing frames."""
    archive = Archive(Path(root))
    for i in range(frames):
        folder = archive.root / f"20{20 + i % 4}" / f"session-{i % 7:02d}" / ("tilt" if i % 5 == 0 else "")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"frame_{i:05d}.tif"
        path.write_bytes(tiff_bytes(seed * 1_000_000 + i))
        archive.frames.append(path)
    if corrupt:
        bad = archive.root / "broken"
        bad.mkdir(parents=True, exist_ok=True)
        good = tiff_bytes(seed * 1_000_000 + 999_999)
        for name, data in (("truncated.tif", good[: len(good) // 3]), ("empty.tif", b""),
                           ("notes.tif", b"operator notes, not an image\n"), ("noise.tif", os.urandom(512))):
            (bad / name).write_bytes(data)
            archive.corrupt.append(bad / name)
    for k in range(copies):
        source = archive.frames[(k * 37) % len(archive.frames)]
        copy = archive.root / "copies" / f"copy_{k}_{source.name}"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
        archive.copies.append(copy)
    return archive


# -- the CLI as a real process -------------------------------------------------------------------
def cli_env(*, pool: int | None = None, extra_path: Path | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if pool is not None:
        env["NANOAID_PIPELINE__CPU_BUDGET"] = str(pool)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(extra_path), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def batch_args(*args: object) -> list[str]:
    return [sys.executable, "-m", "nanoaid_daemon.cli", "batch", *map(str, args)]


def run_batch_cli(*args: object, env: dict[str, str] | None = None, timeout: float = 300) -> tuple[int, dict, str]:
    """Run ``nanoaid batch … --json``; returns (exit code, summary, stderr)."""
    proc = subprocess.run(batch_args(*args, "--json", "--progress-interval", "1"), capture_output=True, text=True,
                          env=env or cli_env(), timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    summary = json.loads(lines[-1]) if lines else {}
    return proc.returncode, summary, proc.stderr


# -- a real analyzer plugin, installed the way third parties install one ----------------------
PROBE_SOURCE = '''
"""Analyzer used by the batch tests: slow on purpose, marks busy workers, or kills its process."""
import os
import time
from pathlib import Path

MANIFEST = {"name": "probe", "kind": "analyzer", "version": "0.1", "description": "batch test probe",
            "factory": "nanoaid_batch_probe:create"}


def create(ctx):
    return Probe(ctx.options)


class Probe:
    def __init__(self, options):
        self.sleep_s = float(options.get("sleep_s", 0))
        self.busy_dir = options.get("busy_dir")
        self.die_on = options.get("die_on")

    def analyze(self, ctx):
        if self.die_on and ctx.read.path.name == self.die_on:
            os._exit(17)
        marker = Path(self.busy_dir) / str(os.getpid()) if self.busy_dir else None
        if marker is not None:
            marker.write_text(ctx.read.path.name)
        time.sleep(self.sleep_s)
        if marker is not None:
            marker.unlink(missing_ok=True)
        return {"probe": True}
'''


def install_probe_plugin(folder: Path) -> Path:
    """A module plus a dist-info with its entry point: found by discovery once ``folder`` is on the path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nanoaid_batch_probe.py").write_text(textwrap.dedent(PROBE_SOURCE))
    info = folder / "nanoaid_batch_probe-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nanoaid-batch-probe\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[nanoaid.plugins]\nprobe = nanoaid_batch_probe:MANIFEST\n")
    return folder


def probe_config(path: Path, **options: object) -> Path:
    body = "".join(f"{key} = {json.dumps(value)}\n" for key, value in options.items())
    path.write_text(f"[plugins.options.probe]\n{body}")
    return path


# -- what the journal and the output folder say -------------------------------------------------
@dataclass
class Outcome:
    events: list
    counts: dict
    sidecars: list[Path]
    temp_files: list[Path]

    def of_type(self, kind: str) -> list:
        return [e for e in self.events if e.type == kind]

    def processed_ids(self) -> Counter:
        return Counter(e.frame_id for e in self.of_type("frame.processed"))


def outcome(state: Path, output: Path) -> Outcome:
    journal = Journal(state / "journal.sqlite3")
    try:
        events, counts = journal.events(), journal.counts()
    finally:
        journal.close()
    return Outcome(events, counts, sorted(output.rglob("*.nanoaid.json")), sorted(output.rglob(f"*{TEMP_SUFFIX}")))


def assert_exactly_once(result: Outcome, archive: Archive) -> None:
    """Every unique frame: one event, one valid sidecar; seqs gap-free; no temp files left."""
    ids = result.processed_ids()
    assert len(ids) == len(archive.frames), f"{len(archive.frames) - len(ids)} frames lost"
    assert [i for i, n in ids.items() if n > 1] == []
    assert [e.seq for e in result.events] == list(range(1, len(result.events) + 1))
    assert len(result.sidecars) == len(archive.frames)
    shas = [Sidecar.model_validate_json(p.read_text()).frame.sha256 for p in result.sidecars]
    assert sorted(shas) == sorted(ids)
    assert result.temp_files == []
