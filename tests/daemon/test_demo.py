"""The README's main job: `nanoaid demo` finishes on its own and says what it did."""
from __future__ import annotations

import re
import subprocess
import sys


def test_demo_runs_end_to_end_and_reports_every_frame(tmp_path):
    keep = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "nanoaid_daemon.cli", "demo", "--frames", "5", "--keep", str(keep)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert out.count("frame.processed") == 5
    assert "interrupted_save.tif: truncated" in out
    assert re.search(r"frames processed : 5 \(sidecars: 5\)", out)
    assert re.search(r"rejected\s+: 1", out) and re.search(r"duplicates\s+: 1", out)
    assert len(list((keep / "watch").rglob("*.nanoaid.json"))) == 5
