"""A sidecar's provenance names every model that shaped it, with the model file's SHA-256."""
from __future__ import annotations

import hashlib
from pathlib import Path

from nanoaid_daemon.config import load_settings
from nanoaid_daemon.hashing import sha256_file
from nanoaid_daemon.host import PluginHost
from nanoaid_daemon.inference import load_runtime
from nanoaid_daemon.pipeline import Pipeline

ZEISS = "rosettasciio/test_tiff_Zeiss_SEM_1k.tif"


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sidecar(models_dir: Path, frame: Path, out: Path, **options):
    settings = load_settings(overrides={
        "models": {"dir": str(models_dir), "providers": ["CPUExecutionProvider"]},
        "pipeline": {"cpu_budget": 1}, "output": {"root": str(out)}, "plugins": {"options": options},
    })
    runtime = load_runtime(settings)
    try:
        pipeline = Pipeline(settings, PluginHost.load(settings, runtime=runtime), root=frame.parent)
        frame_id, size = sha256_file(frame)
        return pipeline.analyze(pipeline.read(frame), frame_id=frame_id, size_bytes=size).sidecar
    finally:
        runtime.close()


def test_provenance_lists_classifier_and_autoencoder_with_their_file_hashes(models_dir, real_sem, tmp_path):
    sidecar = _sidecar(models_dir, real_sem / ZEISS, tmp_path)
    assert sidecar.status == "ok" and {p.kind for p in sidecar.previews} == {"thumbnail", "cam", "ai_lens"}
    expected = {name: _file_sha256(models_dir / f"{name}.onnx") for name in ("nffa-classifier", "sem-autoencoder")}
    assert {m.name: m.sha256 for m in sidecar.provenance.models} == expected
    assert sidecar.provenance.model_hashes == expected
    assert all(m.version for m in sidecar.provenance.models)


def test_provenance_names_only_the_models_that_ran(models_dir, real_sem, tmp_path):
    sidecar = _sidecar(models_dir, real_sem / ZEISS, tmp_path, previews={"kinds": ["thumbnail", "cam"]})
    assert [m.name for m in sidecar.provenance.models] == ["nffa-classifier"]
    assert sidecar.provenance.model_hashes == {"nffa-classifier": _file_sha256(models_dir / "nffa-classifier.onnx")}
