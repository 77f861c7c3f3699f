"""The uploader's unit file: what the service relies on, and the hardening target (exposure ≤ 2.0)."""
from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from nanoaid_daemon.cli import build_parser

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "nanoaid-upload.service"


def _service():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNIT)
    return parser["Service"]


def test_unit_runs_the_upload_command_as_a_notify_service_with_a_dedicated_user():
    service = _service()
    assert service["Type"] == "notify" and "WatchdogSec" in service and int(service["TimeoutStopSec"]) <= 10
    assert service["User"] == "nanoaid-upload" and "DynamicUser" not in service  # it owns a persistent archive
    argv = shlex.split(service["ExecStart"])
    args = build_parser().parse_args(argv[1:])  # the unit's command line parses with today's CLI
    assert args.command == "upload" and args.archive == Path(service["ReadWritePaths"])
    assert service["ProtectSystem"] == "strict" and service["StateDirectory"] == args.state.name


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_hardening_exposure_is_at_most_2():
    out = subprocess.run(["systemd-analyze", "security", "--offline=true", str(UNIT)], capture_output=True, text=True)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out.stdout)
    assert match, out.stdout[-500:] + out.stderr
    assert float(match.group(1)) <= 2.0
