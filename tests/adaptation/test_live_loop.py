"""The live loop on a real daemon process: corrections → model.adapted → later frames name the new model;
kill -9 and restart keep it; `nanoaid models rollback` restores the previous version."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from nanoaid_daemon.journal import Journal
from nanoaid_daemon.modelcard import load_card
from nanoaid_daemon.synth import render, write_frame
from nanoaid_daemon.testing import daemon_command, fast_env

CLASSES = ("Nanowires", "Tips")


def wait_for(predicate, timeout: float = 60.0, message: str = "condition"):
    """Poll until truthy; a safety net against hangs, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.1)
    return value


def _env() -> dict[str, str]:
    return fast_env(NANOAID_ADAPTATION__BATCH_S="0.5", NANOAID_ADAPTATION__POLL_S="0.1",
                    NANOAID_PLUGINS__DISABLED='["alignment", "previews"]')


def _drop(watch: Path, name: str, cls: str, seed: int) -> Path:
    tmp = watch / f".{name}.part.png"
    write_frame(render(cls, seed=seed, size=(192, 256), bits=8, databar=True), tmp)
    final = watch / f"{name}.png"
    tmp.rename(final)  # saved elsewhere, renamed into place as instruments do
    return final


def _events(state: Path, kind: str) -> list:
    journal = Journal(state / "journal.sqlite3")
    try:
        return journal.events(type=kind)
    finally:
        journal.close()


def _sidecar(frame: Path) -> dict:
    path = frame.with_name(frame.name + ".nanoaid.json")
    wait_for(path.exists, timeout=120, message=f"sidecar of {frame.name}")
    return json.loads(path.read_text())


def _label(state: Path, frame: Path, cls: str) -> None:
    cmd = [sys.executable, "-m", "nanoaid_daemon.cli", "label", str(frame), cls, "--state", str(state),
           "--operator", "tester"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "via daemon" in done.stdout


def _start(watch: Path, state: Path) -> subprocess.Popen:
    proc = subprocess.Popen(daemon_command(watch, state), env=_env(), stderr=subprocess.DEVNULL)
    wait_for(lambda: (state / "endpoints.json").exists() and _events(state, "daemon.started"), timeout=120,
             message="daemon up")
    return proc


def test_corrections_adapt_the_running_daemon_and_survive_kill9_and_rollback(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    proc = _start(watch, state)
    try:
        first = [_drop(watch, f"a{i}", CLASSES[i % 2], 500 + i) for i in range(4)]
        assert all(_sidecar(f)["classification"]["model"]["name"] == "nffa-classifier" for f in first)
        for i, frame in enumerate(first[:3]):
            _label(state, frame, CLASSES[i % 2])
        # one re-fit per quiet batch: the labels may land in one batch or several; the last one has all three
        adapted = wait_for(lambda: [e for e in _events(state, "model.adapted")
                                    if e.model.support == {"Nanowires": 2, "Tips": 1}], timeout=60,
                           message="model.adapted with all three corrections")[-1]
        assert adapted.model.reason == "corrections"
        assert {"accuracy", "set_coverage", "accepted_precision"} <= set(adapted.model.metrics)
        v1 = int(adapted.model.version)
        card = load_card(state / f"adaptation/versions/v{v1:04d}/nffa-classifier.card.json")
        assert adapted.model.sha256 == card.sha256 and card.training["live"]["corrections"] == 3

        later = _sidecar(_drop(watch, "b0", "Tips", 600))
        assert later["classification"]["model"] == {"name": card.name, "version": str(v1), "sha256": card.sha256}
        assert later["provenance"]["model_hashes"][card.name] == card.sha256
        assert "prediction_set" in later["classification"] and "ood_score" in later["classification"]

        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc = _start(watch, state)
        after = _sidecar(_drop(watch, "c0", "Nanowires", 700))
        assert after["classification"]["model"]["sha256"] == card.sha256, "kill -9 must keep the adapted model"

        _label(state, first[3], "Tips")  # corrections before the kill are still counted
        second = wait_for(lambda: [e for e in _events(state, "model.adapted")
                                   if e.model.support == {"Nanowires": 2, "Tips": 2}], timeout=60,
                          message="model.adapted with the fourth correction")[-1]
        assert int(second.model.version) == v1 + 1

        done = subprocess.run([sys.executable, "-m", "nanoaid_daemon.cli", "models", "rollback", "--state", str(state)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        rolled = wait_for(lambda: [e for e in _events(state, "model.adapted") if e.model.reason == "rollback"],
                          timeout=30, message="rollback announced")[-1]
        assert rolled.model.sha256 == card.sha256
        back = _sidecar(_drop(watch, "d0", "Tips", 800))
        assert back["classification"]["model"]["version"] == str(v1)

        proc.send_signal(signal.SIGKILL)  # a restart must not undo the rollback by re-fitting
        proc.wait(timeout=10)
        proc = _start(watch, state)
        again = _sidecar(_drop(watch, "e0", "Nanowires", 900))
        assert again["classification"]["model"]["version"] == str(v1)
        assert len(_events(state, "label.corrected")) == 4
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
