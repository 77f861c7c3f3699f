"""A batch publishes on the event bus like the daemon, and never shares a state folder with one."""
from __future__ import annotations

import json
import signal
import subprocess
import sys

from nanoaid_daemon.testing import wait_for

from .helpers import batch_args, cli_env, install_probe_plugin, make_archive, outcome, probe_config, run_batch_cli


def test_a_subscriber_follows_the_batch_events_live_over_the_bus(tmp_path):
    archive = make_archive(tmp_path / "archive", 40, copies=1)
    state, out = tmp_path / "state", tmp_path / "out"
    config = probe_config(tmp_path / "probe.toml", sleep_s=0.05)
    env = cli_env(pool=2, extra_path=install_probe_plugin(tmp_path / "plugins"))
    with open(tmp_path / "batch.log", "w") as log:
        batch = subprocess.Popen(batch_args(archive.root, "--state", state, "--output", out, "--config", config),
                                 env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: (state / "endpoints.json").exists() or batch.poll() is not None, message="the batch's bus")
        assert batch.poll() is None, (tmp_path / "batch.log").read_text()
        events = subprocess.run([sys.executable, "-m", "nanoaid_daemon.cli", "events", "--state", str(state),
                                 "--since", "0", "--type", "frame.", "--idle-exit", "3"],
                                capture_output=True, text=True, env=env, timeout=120)
        assert batch.wait(timeout=120) == 1  # the broken files are rejected
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
    received = [json.loads(line) for line in events.stdout.splitlines()]
    journaled = outcome(state, out).events
    assert [e["seq"] for e in received] == [e.seq for e in journaled]
    assert [e["event_id"] for e in received] == [e.event_id for e in journaled]
    assert sum(e["type"] == "frame.processed" for e in received) == 40
    assert not (state / "endpoints.json").exists()  # the bus stopped with the batch


def test_a_batch_refuses_the_state_folder_of_a_running_daemon(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    archive = make_archive(tmp_path / "archive", 2, corrupt=False, copies=0)
    with open(tmp_path / "daemon.log", "w") as log:
        daemon = subprocess.Popen([sys.executable, "-m", "nanoaid_daemon.cli", "run", "--watch", str(watch),
                                   "--state", str(state)], env=cli_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: (state / "endpoints.json").exists(), message="the daemon's endpoints")
        code, _, err = run_batch_cli(archive.root, "--state", state)
        assert code == 2 and "daemon" in err and "is using" in err
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    assert not any(e.type.startswith("frame.") for e in outcome(state, tmp_path).events)
