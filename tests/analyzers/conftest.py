"""Fixtures for the analyzer tests: real ONNX models on disk, a real runtime, frame contexts."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from analyzer_models import write_standard_models

from nanoaid_daemon.frame import Page, ReadResult
from nanoaid_daemon.inference import Runtime
from nanoaid_daemon.metadata import Instrument
from nanoaid_daemon.plugins import AnalysisContext, PluginContext, PluginManifest, load_factory


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    return write_standard_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def runtime(models_dir):
    rt = Runtime(models_dir, providers=["CPUExecutionProvider"], threads=1)
    yield rt
    rt.close()


def frame_context(pixels: np.ndarray, output_dir: Path, name: str = "frame.tif") -> AnalysisContext:
    page = Page(pixels, 0, Instrument(), pixels.shape[0], pixels.shape[1])
    read = ReadResult(Path(output_dir) / name, "generic", "image/tiff", str(pixels.dtype), [page])
    return AnalysisContext(frame_id="0" * 64, read=read, output_dir=Path(output_dir), preview_stem=name)


def make_plugin(manifest: PluginManifest, runtime: Runtime | None, models_dir: Path | None = None,
                **options: Any) -> Any:
    ctx = PluginContext(manifest, options, models_dir or (runtime.models_dir if runtime else None), runtime)
    return load_factory(manifest)(ctx)


def bright_object(shape=(300, 400), box=(100, 150, 70, 90), dtype=np.uint8) -> np.ndarray:
    """A flat dark frame with one bright rectangle (top, left, height, width), a little noise."""
    rng = np.random.default_rng(7)
    image = 30 + rng.normal(0, 2, shape)
    top, left, h, w = box
    image[top:top + h, left:left + w] = 220
    return np.clip(image, 0, 255).astype(dtype)
