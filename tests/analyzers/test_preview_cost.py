"""What makes previews cheap must not change what they show: the encoder-only graph gives the
whole autoencoder's activations bit for bit, and preview bytes do not depend on thread count."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from conftest import bright_object, frame_context, make_plugin

from nanoaid_daemon.config import default_models_dir
from nanoaid_daemon.errors import ConfigError
from nanoaid_daemon.inference import Runtime
from nanoaid_plugins.analyzer_classify import MANIFEST as CLASSIFY
from nanoaid_plugins.analyzer_previews import MANIFEST as PREVIEWS
from nanoaid_plugins.analyzer_previews.encoder import EncoderSessions, encoder_only


def _shipped() -> Path | None:
    try:
        return default_models_dir()
    except ConfigError:  # the shipped models are not installed here
        return None

REAL_FRAME = Path(__file__).resolve().parents[3] / "shared" / "data" / "real-sem" / "rosettasciio" / \
    "test_tiff_Zeiss_SEM_1k.tif"


def test_encoder_only_graph_gives_the_whole_models_activations_bit_for_bit(runtime):
    model = runtime.model("sem-autoencoder")
    names = model.encoder_outputs()
    cut = encoder_only(model.path.read_bytes(), names)
    assert len(cut) < model.path.stat().st_size  # the decoder's weights are gone
    tensor = np.random.default_rng(3).random((1, model.card.input.height, model.card.input.width), np.float32)
    alone = EncoderSessions(runtime).infer(model, tensor, names)
    whole = model.infer(tensor[None], names)
    assert sorted(alone) == sorted(names)
    for name in names:
        assert np.array_equal(alone[name], whole[name])


def test_cutting_for_an_output_the_graph_lacks_is_refused(runtime):
    model = runtime.model("sem-autoencoder")
    with pytest.raises(ValueError, match="no output 'enc99'"):
        encoder_only(model.path.read_bytes(), ["enc99"])


def _preview_bytes(models: Path, threads: int, pixels: np.ndarray, out: Path) -> dict[str, str]:
    runtime = Runtime(models, providers=["CPUExecutionProvider"], threads=threads)
    try:
        ctx = frame_context(pixels, out)
        make_plugin(CLASSIFY, runtime).analyze(ctx)
        previews = make_plugin(PREVIEWS, runtime).analyze(ctx)
        return {p.kind: hashlib.sha256((out / p.path).read_bytes()).hexdigest() for p in previews}
    finally:
        runtime.close()


def _frame() -> np.ndarray:
    if REAL_FRAME.is_file():
        import tifffile

        pixels = tifffile.imread(REAL_FRAME)
        return pixels if pixels.ndim == 2 else pixels[..., 0]
    return bright_object((768, 1024))


@pytest.mark.parametrize("which", ["test models", "shipped models"])
def test_preview_bytes_are_equal_with_one_and_two_inference_threads(models_dir, tmp_path, which):
    models = models_dir if which == "test models" else _shipped()
    if models is None or not (models / "sem-autoencoder.card.json").is_file():
        pytest.skip(f"no shipped models installed ({models})")
    pixels = _frame()
    one = _preview_bytes(models, 1, pixels, tmp_path / "one")
    two = _preview_bytes(models, 2, pixels, tmp_path / "two")
    assert sorted(one) == ["ai_lens", "cam", "thumbnail"]
    assert one == two


def test_a_frames_previews_are_each_synced_then_their_folder_once(runtime, tmp_path, monkeypatch):
    """One folder fsync for the three files, after all three are on disk under their names: the
    sidecar written afterwards never lists a preview a crash could lose."""
    import os
    import stat

    from nanoaid_daemon import atomic

    events: list[tuple[str, list[str]]] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        kind = "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        events.append((kind, sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))))
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    ctx = frame_context(bright_object((768, 1024)), tmp_path)
    make_plugin(CLASSIFY, runtime).analyze(ctx)
    previews = make_plugin(PREVIEWS, runtime).analyze(ctx)
    assert [kind for kind, _ in events] == ["file", "file", "file", "dir"]
    assert events[-1][1] == sorted(p.path for p in previews)  # all renamed into place before the folder sync


def _encoder_inputs(monkeypatch) -> list[tuple[int, ...]]:
    """Shapes of the inputs the AI lens hands its encoder (the real call still runs)."""
    shapes: list[tuple[int, ...]] = []
    real = EncoderSessions.infer

    def infer(self, model, tensor, outputs):
        shapes.append(tensor.shape)
        return real(self, model, tensor, outputs)

    monkeypatch.setattr(EncoderSessions, "infer", infer)
    return shapes


def test_ai_lens_encoder_runs_on_the_frames_aspect_at_the_size_the_montage_shows(runtime, tmp_path, monkeypatch):
    shapes = _encoder_inputs(monkeypatch)
    ctx = frame_context(bright_object((768, 1024)), tmp_path)
    make_plugin(CLASSIFY, runtime).analyze(ctx)
    make_plugin(PREVIEWS, runtime).analyze(ctx)
    spec = runtime.model("sem-autoencoder").card.input
    (channels, height, width), = shapes
    assert channels == spec.channels
    assert abs(width / height - 4 / 3) < 0.1  # not stretched to the card's square (64×48 here)
    assert height * width < spec.height * spec.width  # never more than the card's input (capped at its side here)


def test_without_a_size_free_encoder_the_lens_runs_at_the_cards_size(runtime, tmp_path, monkeypatch):
    from nanoaid_plugins.analyzer_previews import encoder

    monkeypatch.setattr(encoder, "any_size", lambda model_bytes: None)  # as without the onnx package
    shapes = _encoder_inputs(monkeypatch)
    ctx = frame_context(bright_object((768, 1024)), tmp_path)
    previews = make_plugin(PREVIEWS, runtime).analyze(ctx)
    spec = runtime.model("sem-autoencoder").card.input
    assert shapes == [(spec.channels, spec.height, spec.width)]
    assert "ai_lens" in [p.kind for p in previews]


def test_size_free_encoder_at_the_cards_size_matches_the_whole_model_bit_for_bit(runtime):
    from nanoaid_plugins.analyzer_previews.encoder import _session, any_size

    model = runtime.model("sem-autoencoder")
    names = model.encoder_outputs()
    free = any_size(encoder_only(model.path.read_bytes(), names))
    assert free is not None
    session = _session(free, runtime)
    rng = np.random.default_rng(5)
    card = rng.random((1, model.card.input.channels, model.card.input.height, model.card.input.width), np.float32)
    whole = model.infer(card, names)
    for name, got in zip(names, session.run(names, {model.input_name: card}), strict=True):
        assert np.array_equal(got, whole[name])
    small = rng.random((1, model.card.input.channels, 48, 64), np.float32)  # any size with the poolings' factor
    for got in session.run(names, {model.input_name: small}):
        assert got.shape[2] / got.shape[3] == 48 / 64


@pytest.mark.parametrize("frame_hw", [(768, 1024), (1024, 768), (500, 2000), (2000, 2000)])
def test_lens_size_is_twice_a_tile_at_the_frames_aspect_in_whole_poolings(frame_hw):
    from nanoaid_plugins.analyzer_previews.render import lens_size, tile_shape

    height, width = lens_size(frame_hw, 4, 4, 512, 16, 1024)
    th, tw = tile_shape(frame_hw, 4, 4, 512)
    assert height % 16 == 0 and width % 16 == 0
    assert abs(height - 2 * th) <= 8 and abs(width - 2 * tw) <= 8


def test_lens_size_is_capped_at_the_longest_side_given():
    from nanoaid_plugins.analyzer_previews.render import lens_size

    assert max(lens_size((3000, 4000), 4, 4, 4096, 16, 256)) == 256
