"""The shipped unit files: the behaviours the daemon relies on, and the hardening target."""
from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "nanoaid.service"


def _unit():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNIT)
    return parser


def test_unit_is_notify_type_with_watchdog_and_quick_stop():
    service = _unit()["Service"]
    assert service["Type"] == "notify"
    assert int(service["TimeoutStopSec"]) <= 10
    assert "WatchdogSec" in service
    assert service["ExecReload"].endswith("-HUP $MAINPID")
    assert "LoadCredential" in service
    assert "run --watch" in service["ExecStart"] and "--state" in service["ExecStart"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_hardening_exposure_is_at_most_2():
    out = subprocess.run(["systemd-analyze", "security", "--offline=true", str(UNIT)],
                         capture_output=True, text=True)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out.stdout)
    assert match, out.stdout[-500:] + out.stderr
    assert float(match.group(1)) <= 2.0
