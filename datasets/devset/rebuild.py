#!/usr/bin/env python3
"""Rebuild the development set from its manifest into a folder of class folders.

    python datasets/devset/rebuild.py OUT [--manifest datasets/devset/manifest.csv]
        [--clone-dir .cache/devset-repos] [--mirrors DIR] [--shared ../shared] [--offline]

Committed (openly licensed) images are copied from ``datasets/devset/open/``. Every other row is
read from its repository at the manifest's commit: from ``--mirrors DIR/<owner>+<name>/repo``
(a bare git directory, or a clone whose git directory is ``repo/.git``) when there is one, else
by ``git clone --filter=blob:none`` from GitHub into ``--clone-dir`` (needs internet; skipped
with ``--offline``); rows whose repo is ``shared`` come from ``--shared/<path>``. Each original
is checked against its sha256, cropped, turned to 8-bit grey and downscaled to 512 px. Writes
``OUT/<Class>/<id>.png`` and ``OUT/groups.csv`` (file, source, class, confidence) and prints
the counts per class and per source.
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from nanoaid_daemon.evaluation.devset import DevImage, counts, load_manifest, materialise  # noqa: E402


class Fetcher:
    """Original bytes of a manifest row from a local mirror, a clone, or the shared folder."""

    def __init__(self, clone_dir: Path, mirrors: Path | None, shared: Path, offline: bool) -> None:
        self.clone_dir, self.mirrors, self.shared, self.offline = clone_dir, mirrors, shared, offline
        self.failed: dict[str, str] = {}

    def _git_dir(self, repo: str) -> Path | None:
        key = repo.replace("/", "+")
        if self.mirrors and (self.mirrors / key / "repo").is_dir():
            mirror = self.mirrors / key / "repo"
            # a mirror is usually bare; a non-bare one keeps its git directory in repo/.git
            return mirror / ".git" if (mirror / ".git").is_dir() else mirror
        clone = self.clone_dir / key
        if clone.is_dir():
            return clone
        if self.offline or repo in self.failed:
            return None
        self.clone_dir.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["git", "clone", "--bare", "--filter=blob:none", f"https://github.com/{repo}.git",
                               str(clone)], capture_output=True, text=True)
        if done.returncode:
            self.failed[repo] = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "clone failed"
            return None
        return clone

    def __call__(self, row: DevImage) -> bytes | None:
        if row.repo == "shared":
            path = self.shared / row.path
            return path.read_bytes() if path.is_file() else None
        git_dir = self._git_dir(row.repo)
        if git_dir is None:
            return None
        done = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{row.commit}:{row.path}"],
                              capture_output=True)
        return done.stdout if done.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("out", type=Path)
    ap.add_argument("--manifest", type=Path, default=HERE / "manifest.csv")
    ap.add_argument("--clone-dir", type=Path, default=ROOT / ".cache" / "devset-repos")
    ap.add_argument("--mirrors", type=Path, help="folder of bare mirrors named <owner>+<name>/repo")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--offline", action="store_true", help="use committed images and local mirrors only")
    args = ap.parse_args(argv)
    rows = load_manifest(args.manifest)
    fetch = Fetcher(args.clone_dir, args.mirrors, args.shared, args.offline)
    written, skipped = materialise(rows, ROOT, args.out, fetch)
    with open(args.out / "groups.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "source", "class", "confidence"])
        for path, row in sorted(written.items()):
            w.writerow([path.relative_to(args.out).as_posix(), row.source, row.cls, row.confidence])
    table = counts(list(written.values()))
    print(f"{len(written)} of {len(rows)} images written to {args.out}; {len(skipped)} skipped")
    for repo, why in fetch.failed.items():
        print(f"  could not clone {repo}: {why}")
    print(f"{'class':<30} {'images':>6} {'sources':>7}")
    for name, n in table["per_class"].items():
        print(f"{name:<30} {n:>6} {table['sources_per_class'][name]:>7}")
    print(f"{'source':<40} {'images':>6}")
    for name, n in table["per_source"].items():
        print(f"{name:<40} {n:>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
