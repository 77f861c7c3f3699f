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


def test_ready_then_watchdog_pings_continue_while_the_repository_is_down(tmp_path):
    import os
    import signal
    import socket
    import time

    from .factory import EventLog
    from .helpers import nanoaid_cmd, running

    log = EventLog(tmp_path / "events.jsonl")
    log.frames(tmp_path / "watch", 2)
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "not-an-archive.txt").write_text("someone else's folder")  # every upload fails
    sock_path = tmp_path / "notify.sock"
    messages = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(sock_path))
        sock.settimeout(0.2)
        env = {**os.environ, "NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"}
        cmd = nanoaid_cmd("upload", "--state", tmp_path / "s", "--events", log.path, "--archive",
                          tmp_path / "archive", "--retry-initial", "5", "--retry-max", "5")
        with running(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and sum(m == "WATCHDOG=1" for m in messages) < 6:
                try:
                    messages.append(sock.recv(4096).decode())
                except TimeoutError:
                    pass
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, proc.stderr.read()
        try:
            while True:
                messages.append(sock.recv(4096).decode())
        except TimeoutError:
            pass
    assert messages[0].startswith("READY=1")
    assert sum(m == "WATCHDOG=1" for m in messages) >= 6  # pings go on through the 5 s backoff waits
    assert any(m.startswith("STATUS=backlog 2") for m in messages) and messages[-1] == "STOPPING=1"
