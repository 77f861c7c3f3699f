"""The shipped unit files: the behaviours the daemon relies on, and the hardening target."""
from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "nanoaid.service"


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


def sem_pc_steps() -> list[str]:
    """The command lines of the README's "Running it on an SEM PC" block, as a user copies them."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Running it on an SEM PC", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README's SEM-PC section lost its command block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_unit_runs_exactly_the_readme_sem_pc_command():
    install, run = sem_pc_steps()
    venv = re.search(r"python3 -m venv (\S+) ", install).group(1)
    assert install.startswith(f"python3 -m venv {venv} && {venv}/bin/pip install ")
    assert run.startswith(f"{venv}/bin/nanoaid run --watch ") and " --state " in run
    assert _unit()["Service"]["ExecStart"] == run


def test_a_configuration_error_is_not_restarted_in_a_loop():
    service = _unit()["Service"]
    assert service["Restart"] == "on-failure" and "2" in service["RestartPreventExitStatus"].split()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_hardening_exposure_is_at_most_2():
    out = subprocess.run(["systemd-analyze", "security", "--offline=true", str(UNIT)],
                         capture_output=True, text=True)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out.stdout)
    assert match, out.stdout[-500:] + out.stderr
    assert float(match.group(1)) <= 2.0
