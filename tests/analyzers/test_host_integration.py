"""The three analyzers as the host loads them, on a real instrument file, into a valid sidecar."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from conftest import frame_context

from nanoaid_daemon.config import load_settings
from nanoaid_daemon.host import PluginHost
from nanoaid_daemon.inference import Runtime
from nanoaid_daemon.plugins import AnalysisContext
from nanoaid_daemon.schema import schema_path
from nanoaid_daemon.sidecar import FrameInfo, Provenance, Sidecar, Software

OURS = {"classify", "alignment", "previews"}
ZEISS = "rosettasciio/test_tiff_Zeiss_SEM_1k.tif"  # 768×1024 with real image content


def settings_for(models_dir: Path, cpu_budget: int = 1, **options):
    return load_settings(overrides={
        "models": {"dir": str(models_dir), "providers": ["CPUExecutionProvider"]},
        "pipeline": {"cpu_budget": cpu_budget},
        "plugins": {"options": options},
    })


def run_analyzers(settings, path: Path, out: Path) -> tuple[dict, Sidecar]:
    """What the pipeline does with one frame: one runtime, analyzers in order, shared scratch space."""
    with Runtime.from_settings(settings) as runtime:
        host = PluginHost.load(settings, runtime=runtime)
        read = host.read(path)
        ctx = AnalysisContext(frame_id="f" * 64, read=read, output_dir=out, preview_stem=path.name)
        sections = {p.manifest.section: p.obj.analyze(ctx) for p in host.analyzers if p.manifest.name in OURS}
    page = read.primary
    frame = FrameInfo(name=path.name, path=path.name, sha256="f" * 64, size_bytes=path.stat().st_size,
                      media_type=read.media_type, width_px=page.stored_width_px, height_px=page.stored_height_px,
                      dtype=read.dtype, pages=len(read.pages), databar_rows=page.databar_rows, reader=read.reader)
    sidecar = Sidecar(frame=frame, provenance=Provenance(software=Software(version="0"), config_hash="c"), **sections)
    return sections, sidecar


def test_host_loads_the_analyzers_in_section_order(models_dir):
    settings = settings_for(models_dir)
    with Runtime.from_settings(settings) as runtime:
        host = PluginHost.load(settings, runtime=runtime)
    ours = [(p.manifest.name, p.manifest.section) for p in host.analyzers if p.manifest.name in OURS]
    assert ours == [("classify", "classification"), ("alignment", "alignment"), ("previews", "previews")]
    assert not OURS & set(host.disabled)


def test_real_frame_gives_a_sidecar_that_validates_against_the_schema(models_dir, real_sem, tmp_path):
    _, sidecar = run_analyzers(settings_for(models_dir), real_sem / ZEISS, tmp_path)
    doc = json.loads(sidecar.to_json())
    jsonschema.validate(doc, json.loads(schema_path("sidecar").read_text(encoding="utf-8")))
    assert doc["classification"]["label"] in doc["classification"]["scores"]
    assert 0.0 <= doc["alignment"]["coherency"] <= 1.0
    assert {p["kind"] for p in doc["previews"]} == {"thumbnail", "cam", "ai_lens"}
    assert all((tmp_path / p["path"]).is_file() for p in doc["previews"])


def test_two_independent_runs_give_identical_sections(models_dir, real_sem, tmp_path):
    first, _ = run_analyzers(settings_for(models_dir), real_sem / ZEISS, tmp_path / "a")
    second, _ = run_analyzers(settings_for(models_dir), real_sem / ZEISS, tmp_path / "b")
    for name in ("classification", "alignment"):
        assert first[name].model_dump() == second[name].model_dump()
    assert [p.model_dump() for p in first["previews"]] == [p.model_dump() for p in second["previews"]]


def test_plugin_options_come_from_settings(models_dir, real_sem, tmp_path):
    settings = settings_for(models_dir, alignment={"sigma_px": 3.0}, previews={"kinds": ["thumbnail"]})
    sections, _ = run_analyzers(settings, real_sem / ZEISS, tmp_path)
    assert sections["alignment"].method["sigma_px"] == 3.0
    assert [p.kind for p in sections["previews"]] == ["thumbnail"]


def test_bad_plugin_option_disables_only_that_plugin(models_dir):
    settings = settings_for(models_dir, alignment={"sigma": 3.0})
    with Runtime.from_settings(settings) as runtime:
        host = PluginHost.load(settings, runtime=runtime)
    assert "plugins.options.alignment" in host.disabled["alignment"]
    assert [p.manifest.name for p in host.analyzers if p.manifest.name in OURS] == ["classify", "previews"]


@pytest.mark.parametrize("missing", ["nffa-classifier", "sem-autoencoder"])
def test_host_still_loads_every_analyzer_when_a_model_is_missing(models_dir, tmp_path, missing):
    for p in models_dir.iterdir():
        if not p.name.startswith(missing):
            (tmp_path / p.name).write_bytes(p.read_bytes())
    settings = settings_for(tmp_path)
    with Runtime.from_settings(settings) as runtime:
        host = PluginHost.load(settings, runtime=runtime)
    assert {p.manifest.name for p in host.analyzers} >= OURS and not OURS & set(host.disabled)


def test_sections_do_not_depend_on_the_cpu_budget(models_dir, real_sem, tmp_path):
    one, _ = run_analyzers(settings_for(models_dir, cpu_budget=1), real_sem / ZEISS, tmp_path / "a")
    two, _ = run_analyzers(settings_for(models_dir, cpu_budget=2), real_sem / ZEISS, tmp_path / "b")
    assert one["classification"].model_dump() == two["classification"].model_dump()
    assert one["alignment"].model_dump() == two["alignment"].model_dump()


@pytest.mark.parametrize("pixels", [
    np.zeros((1, 1), np.uint8),
    np.arange(14, dtype=np.uint16).reshape(2, 7),
    np.full((40, 30), np.nan, np.float32),
    np.where(np.eye(50, dtype=bool), np.inf, 1.0).astype(np.float32),
], ids=["1x1", "2x7", "all-nan", "inf-diagonal"])
def test_degenerate_frames_still_get_valid_sections(models_dir, tmp_path, pixels):
    settings = settings_for(models_dir)
    with Runtime.from_settings(settings) as runtime:
        host = PluginHost.load(settings, runtime=runtime)
        ctx = frame_context(pixels, tmp_path)
        sections = {p.manifest.section: p.obj.analyze(ctx) for p in host.analyzers if p.manifest.name in OURS}
    assert sections["classification"].label in sections["classification"].scores
    assert 0.0 <= sections["alignment"].coherency <= 1.0
    assert [p.kind for p in sections["previews"]] == ["thumbnail", "cam", "ai_lens"]
