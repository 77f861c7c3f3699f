"""Soak: a live daemon under a random mix of faults for N minutes, then the invariant checked.

Faults: Latin-1 file names, names near the 255-byte limit, content swapped A → B → A under one
name, operator renames, deleted sidecars, deleted frames (orphaned sidecars), empty and garbage
files, a full state disk (a small tmpfs, when run as root) and SIGTERM + restart.

Invariant at the end: every frame in the watch folder has exactly one sidecar describing its
current bytes, or is quarantined with a reason; no sidecar claims a frame that is gone; the event
sequence is gap-free; no supervised thread died. Exit 0 when it holds.

    .venv/bin/python benchmarks/soak_faults.py --minutes 3 [--seed 1] [--json out.json]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import tifffile

from nanoaid_daemon.hashing import sha256_file
from nanoaid_daemon.journal import Journal
from nanoaid_daemon.sidecar import Sidecar
from nanoaid_daemon.supervise import read_health
from nanoaid_daemon.testing import daemon_command, fast_env

SUFFIX = ".nanoaid.json"


def tiff(seed: int) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.random.default_rng(seed).integers(0, 256, (48, 64), dtype=np.uint8))
    return buf.getvalue()


class Soak:
    def __init__(self, root: Path, rng: random.Random, use_tmpfs: bool):
        self.watch, self.state = root / "watch", root / "state"
        self.watch.mkdir()
        self.state.mkdir()
        self.rng = rng
        self.seed = 1000
        self.counts: Counter[str] = Counter()
        self.tmpfs = use_tmpfs and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs",
                                                   str(self.state)], capture_output=True).returncode == 0
        self.proc: subprocess.Popen | None = None
        self.filler: Path | None = None

    # -- the daemon ------------------------------------------------------------------------------
    def start(self) -> None:
        self.proc = subprocess.Popen(daemon_command(self.watch, self.state), env=fast_env(),
                                     stderr=open(self.state.parent / "daemon.log", "ab"))
        deadline = time.monotonic() + 120
        while not (self.state / "health.json").exists() or read_health(self.state).pid != self.proc.pid:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("the daemon did not start; see daemon.log")
            time.sleep(0.1)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.proc = None
        return rc

    # -- faults ----------------------------------------------------------------------------------
    def _frames(self) -> list[Path]:
        return [p for p in self.watch.iterdir() if p.is_file() and ".nanoaid." not in p.name
                and not p.name.startswith(".")]

    def _new_content(self) -> bytes:
        self.seed += 1
        return tiff(self.seed)

    def fault(self) -> None:
        kinds = ["new", "new", "latin1", "long", "swap", "rename", "del_sidecar", "del_frame", "empty", "garbage",
                 "restart"] + (["disk_full"] if self.tmpfs else [])
        kind = self.rng.choice(kinds)
        self.counts[kind] += 1
        getattr(self, f"_{kind}")()

    def _new(self) -> None:
        (self.watch / f"frame_{self.seed:06d}.tif").write_bytes(self._new_content())

    def _latin1(self) -> None:
        name = os.fsencode(self.watch) + f"/Probe_M{self.seed}".encode() + b"\xfcller.tif"
        with open(name, "wb") as fh:
            fh.write(self._new_content())

    def _long(self) -> None:
        stem = f"{self.seed}_" + "L" * 255
        (self.watch / (stem[: 255 - len(SUFFIX) - 4] + ".tif")).write_bytes(self._new_content())

    def _swap(self) -> None:
        """A → B → A under one name (the instrument's fixed ``image.tif``)."""
        frame = self.watch / "image.tif"
        a = self._new_content()
        frame.write_bytes(a)
        time.sleep(self.rng.uniform(0.3, 1.5))
        frame.write_bytes(self._new_content())
        time.sleep(self.rng.uniform(0.3, 1.5))
        frame.write_bytes(a)

    def _rename(self) -> None:
        frames = [p for p in self._frames() if p.name != "image.tif"]
        if frames:
            src = self.rng.choice(frames)
            os.rename(src, self.watch / f"renamed_{self.seed}_{self.rng.randrange(1 << 30)}.tif")

    def _del_sidecar(self) -> None:
        sidecars = [p for p in self.watch.iterdir() if p.name.endswith(SUFFIX)]
        if sidecars:
            self.rng.choice(sidecars).unlink(missing_ok=True)

    def _del_frame(self) -> None:
        frames = self._frames()
        if frames:
            self.rng.choice(frames).unlink(missing_ok=True)

    def _empty(self) -> None:
        (self.watch / f"empty_{self.seed}.tif").touch()
        self.seed += 1

    def _garbage(self) -> None:
        (self.watch / f"garbage_{self.seed}.tif").write_bytes(b"II*\0" + os.urandom(300))
        self.seed += 1

    def _restart(self) -> None:
        rc = self.stop()
        if rc != 0:
            raise SystemExit(f"daemon exited {rc} on SIGTERM")
        self.start()

    def _disk_full(self) -> None:
        """Fill the state tmpfs for a few seconds while frames keep arriving, then free it."""
        self.filler = self.state / "filler.bin"
        with open(self.filler, "wb", buffering=0) as fh:
            for chunk in (1 << 16, 4096, 512, 1):
                try:
                    while True:
                        fh.write(b"\0" * chunk)
                except OSError:
                    pass
        for _ in range(3):
            self._new()
        time.sleep(self.rng.uniform(2, 6))
        self.filler.unlink()
        self.filler = None

    # -- the end ---------------------------------------------------------------------------------
    def settle(self, timeout: float = 300) -> None:
        """Wait until the journal stops changing and nothing is pending."""
        deadline, last, quiet_since = time.monotonic() + timeout, None, time.monotonic()
        while time.monotonic() < deadline:
            journal = Journal(self.state / "journal.sqlite3")
            try:
                now = (journal.last_seq(), tuple(sorted(journal.counts().items())), self._sidecar_snapshot())
                pending = journal.counts()["discovered"] + journal.counts()["settled"] + journal.counts()["failed"]
            finally:
                journal.close()
            if now != last:
                last, quiet_since = now, time.monotonic()
            elif not pending and time.monotonic() - quiet_since > 8:
                return
            time.sleep(0.5)

    def _sidecar_snapshot(self) -> tuple[str, ...]:
        return tuple(sorted(os.fsdecode(p) for p in os.listdir(os.fsencode(self.watch))))

    def check(self) -> dict:
        journal = Journal(self.state / "journal.sqlite3")
        problems: list[str] = []
        try:
            events = journal.events()
            seqs = [e.seq for e in events]
            frames = self._frames()
            for frame in frames:
                rec = journal.file(frame)
                if rec is not None and rec.state == "rejected":
                    if not rec.reason:
                        problems.append(f"quarantined without a reason: {frame}")
                    continue
                sidecar = frame.with_name(frame.name + SUFFIX)
                try:
                    doc = Sidecar.model_validate_json(sidecar.read_bytes())
                except (OSError, ValueError) as exc:
                    problems.append(f"no valid sidecar for {os.fsencode(frame)!r}: {type(exc).__name__}")
                    continue
                if doc.frame.sha256 != sha256_file(frame)[0]:
                    problems.append(f"sidecar describes other content: {os.fsencode(frame)!r}")
            names = {f.name for f in frames}
            orphans = [p.name for p in self.watch.iterdir() if p.name.endswith(SUFFIX)
                       and p.name[: -len(SUFFIX)] not in names]
            problems += [f"sidecar without its frame: {n!r}" for n in orphans]
            quarantined = len(journal.quarantine())
            counts = journal.counts()
        finally:
            journal.close()
        health = read_health(self.state)
        dead = [t.name for t in health.threads if t.state == "dead"] if health else ["no health record"]
        failures = sum(t.failures for t in health.threads) if health else None
        if seqs != list(range(1, len(seqs) + 1)):
            problems.append("event sequence has gaps")
        problems += [f"thread died: {n}" for n in dead]
        return {"frames": len(frames), "quarantined": quarantined, "events": len(seqs), "file_states": counts,
                "thread_failures": failures, "dead_threads": dead, "problems": problems}

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.tmpfs:
            subprocess.run(["umount", "-l", str(self.state)], check=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the working folder")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="nanoaid-soak-"))
    soak = Soak(root, random.Random(args.seed), use_tmpfs=os.geteuid() == 0)
    started = time.monotonic()
    try:
        soak.start()
        while time.monotonic() - started < args.minutes * 60:
            soak.fault()
            time.sleep(soak.rng.uniform(0.05, 0.6))
        soak.settle()
        result = soak.check()
        result.update({"minutes": args.minutes, "seed": args.seed, "faults": dict(soak.counts),
                       "state_tmpfs": soak.tmpfs, "sigterm_rc": soak.stop()})
    finally:
        soak.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"soak: {args.minutes:g} min, seed {args.seed}, faults injected: {sum(soak.counts.values())}")
    for kind, n in sorted(soak.counts.items()):
        print(f"  {kind:<12} {n}")
    print(f"frames in folder: {result['frames']}, quarantined: {result['quarantined']}, events: {result['events']}, "
          f"thread failures: {result['thread_failures']}, dead threads: {len(result['dead_threads'])}")
    print(f"file states: {result['file_states']}")
    print("invariant: " + ("HOLDS" if not result["problems"] else f"BROKEN ({len(result['problems'])})"))
    for problem in result["problems"][:20]:
        print(f"  {problem}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0 if not result["problems"] and result["sigterm_rc"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
