"""The install an SEM PC gets: the wheel, installed non-editable into a fresh venv outside the checkout.

Every other test runs from the editable development install, where the checkout's folders sit beside
the package; this one builds the wheel, installs it (dependencies from the machine's package index
or cache) into a venv in a temporary folder, and runs the README's "Running it on an SEM PC" steps
literally: ``nanoaid run --watch W --state S`` with frames saved into W, and ``nanoaid process FILE
--json``. The installed package, not the checkout, is what runs (checked by module paths).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REAL_FRAMES = ("rosettasciio/test_tiff_Zeiss_SEM_1k.tif", "rosettasciio/FEI-Helios-Ebeam-8bits.tif")
PREVIEW_KINDS = {"thumbnail", "cam", "ai_lens"}
MODELS = {"nffa-classifier", "sem-autoencoder"}
WHEEL_LIMIT_BYTES = 40 * 1024 * 1024

pytestmark = pytest.mark.slow


def _sources(dst: Path) -> Path:
    """The checkout's files (tracked, plus new ones git does not ignore) copied to ``dst``."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    return dst


def _clean_env() -> dict[str, str]:
    """The caller's environment without anything that could point Python or NanoAID at the checkout."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("NANOAID_", "PYTHON", "VIRTUAL_ENV")) and k != "PYTEST_CURRENT_TEST"}


def _run(cmd: list, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=_clean_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """Build the wheel from the checkout and install it into a fresh venv in a temporary folder."""
    base = tmp_path_factory.mktemp("sem-pc")
    assert REPO not in base.resolve().parents, "the venv must lie outside the checkout"
    src = _sources(base / "src")
    dist = base / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, src], base)
    (wheel,) = dist.glob("nanoaid_daemon-*.whl")
    venv = base / "opt" / "nanoaid" / ".venv"
    _run([sys.executable, "-m", "venv", venv], base)
    _run([venv / "bin" / "pip", "install", "--disable-pip-version-check", "-q", wheel], base)
    return {"base": base, "wheel": wheel, "venv": venv, "nanoaid": venv / "bin" / "nanoaid"}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_wheel_is_under_40_mb_and_carries_the_models_and_type_markers(installed):
    wheel = installed["wheel"]
    assert wheel.stat().st_size < WHEEL_LIMIT_BYTES, f"wheel is {wheel.stat().st_size / 1e6:.1f} MB"
    names = set(zipfile.ZipFile(wheel).namelist())
    for model in MODELS:
        assert {f"nanoaid_models/{model}.onnx", f"nanoaid_models/{model}.card.json"} <= names
    assert {"nanoaid_daemon/py.typed", "nanoaid_plugins/py.typed"} <= names


def test_installed_package_runs_from_the_new_venv_not_the_checkout(installed):
    venv = installed["venv"]
    code = "import nanoaid_daemon, nanoaid_models, nanoaid_plugins as p; print(nanoaid_daemon.__file__); " \
           "print(nanoaid_models.__file__); print(p.__file__)"
    proc = _run([venv / "bin" / "python", "-c", code], installed["base"])
    for line in proc.stdout.split():
        assert Path(line).resolve().is_relative_to(venv.resolve()), line
    listing = _run([installed["nanoaid"], "models", "list"], installed["base"]).stdout
    folder = Path(listing.splitlines()[0].removeprefix("models in "))
    assert folder.resolve().is_relative_to(venv.resolve()) and folder.name == "nanoaid_models", listing
    assert all(name in listing for name in MODELS) and "BROKEN" not in listing


def _models_in(venv: Path) -> dict[str, str]:
    (folder,) = venv.glob("lib/python*/site-packages/nanoaid_models")
    return {name: _sha256(folder / f"{name}.onnx") for name in MODELS}


def _assert_complete(doc: dict, shipped: dict[str, str]) -> None:
    assert doc["status"] == "ok", doc.get("errors")
    assert doc["classification"]["label"] and doc["classification"]["decision"]
    assert {p["kind"] for p in doc["previews"]} == PREVIEW_KINDS
    assert {m["name"]: m["sha256"] for m in doc["provenance"]["models"]} == shipped


def test_readme_sem_pc_steps_run_the_daemon_and_process_real_frames(installed, real_sem, tmp_path):
    nanoaid, shipped = installed["nanoaid"], _models_in(installed["venv"])
    watch, state = tmp_path / "frames", tmp_path / "state"
    watch.mkdir()
    _run([nanoaid, "synth", tmp_path / "synth", "--per-class", "1", "--format", "tiff", "--classes", "Nanowires"],
         tmp_path)
    frames = [real_sem / rel for rel in REAL_FRAMES] + sorted((tmp_path / "synth").rglob("*.tif"))
    daemon = subprocess.Popen([str(nanoaid), "run", "--watch", str(watch), "--state", str(state)], cwd=tmp_path,
                              env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (state / "endpoints.json").exists():
            assert daemon.poll() is None and time.monotonic() < deadline, daemon.communicate(timeout=10)
            time.sleep(0.1)
        for frame in frames:
            shutil.copyfile(frame, watch / frame.name)
        sidecars = [watch / f"{frame.name}.nanoaid.json" for frame in frames]
        while not all(p.exists() for p in sidecars):
            assert daemon.poll() is None and time.monotonic() < deadline, "daemon did not write every sidecar"
            time.sleep(0.1)
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=20)
        assert daemon.returncode == 0, err[-3000:]
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    for path in sidecars:
        _assert_complete(json.loads(path.read_text()), shipped)

    # `nanoaid process FRAME.tif --json` writes beside the frame, so it gets a copy of the real file.
    frame = tmp_path / "check" / Path(REAL_FRAMES[0]).name
    frame.parent.mkdir()
    shutil.copyfile(real_sem / REAL_FRAMES[0], frame)
    proc = _run([nanoaid, "process", frame, "--json"], tmp_path)
    (line,) = proc.stdout.splitlines()
    _assert_complete(json.loads(line), shipped)
