"""`nanoaid events` and the instrument-side examples in examples/, against a real Bus."""
from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from nanoaid_daemon.cli import main
from nanoaid_daemon.corrections import Corrections

from .conftest import emit, processed_frame

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load_example(name: str) -> ModuleType:
    """The examples are scripts beside the package, not installed: load one from its file."""
    spec = importlib.util.spec_from_file_location(f"nanoaid_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


csv_log = _load_example("csv_log")


def test_events_prints_json_lines_from_since_and_exits_when_idle(make_bus, journal, state, capsys):
    bus = make_bus()
    emit(journal, bus, 3, "frame.rejected")
    emit(journal, bus, 2, "daemon.started")
    assert main(["events", "--state", str(state), "--since", "1", "--idle-exit", "0.5"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["seq"] for d in lines] == [2, 3, 4, 5]
    assert all(d["schema_version"] == "nanoaid.event/1" for d in lines)


def test_events_type_prefix_and_text_output(make_bus, journal, state, capsys):
    bus = make_bus()
    emit(journal, bus, 2, "daemon.started")
    emit(journal, bus, 1, "frame.rejected")
    assert main(["events", "--state", str(state), "--since", "0", "--type", "frame.", "--idle-exit", "0.5",
                 "--text"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "frame.rejected" in out[0] and "reason=test 0" in out[0]


def test_events_without_a_daemon_waits_then_exits_on_idle(state, capsys):
    assert main(["events", "--state", str(state), "--since", "0", "--idle-exit", "0.3"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("argv", [["--since", "-1"], ["--idle-exit", "0"], ["--since", "x"]])
def test_events_bad_arguments_exit_2(state, argv):
    with pytest.raises(SystemExit) as info:
        main(["events", "--state", str(state), *argv])
    assert info.value.code == 2


@pytest.fixture
def labelled(make_bus, journal, state, tmp_path):
    bus = make_bus()
    ids = [processed_frame(journal, tmp_path / "frames", f"f{i}.png", seed=i) for i in range(2)]
    Corrections(journal).apply(ids[1], "Tips", operator="ana")
    bus.notify()
    return bus, ids


def test_print_labels_example_runs_as_a_script(labelled, state):
    done = subprocess.run([sys.executable, str(EXAMPLES / "print_labels.py"), "--state", str(state), "--since", "0",
                           "--idle-exit", "1"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["#1 f0.png: Particles (0.60, review), coherency 0.40",
                                        "#2 f1.png: Particles (0.60, review), coherency 0.40",
                                        "#3 f1.png: corrected Particles -> Tips by ana"]


def test_csv_log_example_resumes_without_duplicates(labelled, journal, state, tmp_path):
    bus, ids = labelled
    log = tmp_path / "log.csv"
    assert csv_log.main(["--state", str(state), str(log), "--idle-exit", "0.5"]) == 0
    processed_frame(journal, tmp_path / "frames", "f9.png", seed=9)
    bus.notify()
    assert csv_log.main(["--state", str(state), str(log), "--idle-exit", "0.5"]) == 0
    rows = list(csv.DictReader(open(log)))
    assert [(r["seq"], r["type"], r["label"]) for r in rows] == [
        ("1", "frame.processed", "Particles"), ("2", "frame.processed", "Particles"),
        ("3", "label.corrected", "Tips"), ("4", "frame.processed", "Particles")]
