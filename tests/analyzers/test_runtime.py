"""The inference runtime on real onnxruntime sessions and real model files."""
from __future__ import annotations

import json
import logging
import shutil
import threading

import numpy as np
import pytest
from analyzer_models import autoencoder_onnx, classifier_onnx, write_model, write_standard_models

from nanoaid_daemon.config import load_settings
from nanoaid_daemon.errors import ConfigError, ModelUnavailable
from nanoaid_daemon.inference import Runtime, resolve_providers


@pytest.fixture
def own_models(tmp_path):
    return write_standard_models(tmp_path / "models")


def test_model_is_loaded_once_and_shared(runtime):
    assert runtime.model("nffa-classifier") is runtime.model("nffa-classifier")


def test_log_line_names_the_provider_actually_used(tmp_path, caplog, own_models):
    caplog.set_level(logging.INFO, logger="nanoaid_daemon.inference")
    rt = Runtime(own_models, providers=["CUDAExecutionProvider", "CPUExecutionProvider"], threads=2)
    model = rt.model("nffa-classifier")
    line = next(r.getMessage() for r in caplog.records if "loaded from" in r.getMessage())
    assert model.provider in line
    assert f"loaded from {own_models / 'nffa-classifier.onnx'} on {model.provider}" in line
    assert "2 intra-op threads" in line
    assert model.session.get_providers()[0] == model.provider


def test_cpu_is_always_the_last_resort():
    assert resolve_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert resolve_providers(["CUDAExecutionProvider"])[-1] == "CPUExecutionProvider"


def test_unknown_provider_is_a_config_error_naming_the_setting(own_models):
    with pytest.raises(ConfigError, match="models.providers.*CudaProvider"):
        Runtime(own_models, providers=["CudaProvider"])


def test_runtime_from_settings_uses_cpu_budget_batch_and_thresholds(own_models):
    settings = load_settings(overrides={"models": {"dir": str(own_models), "max_batch": 3, "accept_threshold": 0.9},
                                        "pipeline": {"cpu_budget": 2}})
    with Runtime.from_settings(settings) as rt:
        assert (rt.threads, rt.max_batch, rt.models_dir) == (2, 3, own_models)
        model = rt.model("nffa-classifier")
        assert model.max_batch == 3
        assert rt.thresholds(model.card) == (0.9, 0.35)
        assert model.session.get_session_options().intra_op_num_threads == 2
    assert rt.loaded() == {}


def test_review_above_accept_is_refused(own_models):
    with pytest.raises(ConfigError, match="review_threshold"):
        Runtime(own_models, accept_threshold=0.3, review_threshold=0.5)


def test_missing_model_file_is_unavailable_naming_the_file(own_models):
    (own_models / "nffa-classifier.onnx").unlink()
    with pytest.raises(ModelUnavailable, match=r"nffa-classifier\.onnx.*missing"):
        Runtime(own_models).model("nffa-classifier")


def test_missing_card_is_unavailable_naming_the_card(own_models):
    with pytest.raises(ModelUnavailable, match=r"no-such-model\.card\.json does not exist"):
        Runtime(own_models).model("no-such-model")


def test_flipped_byte_is_caught_by_the_card_sha256(own_models):
    path = own_models / "nffa-classifier.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelUnavailable, match=r"nffa-classifier\.onnx does not match its card"):
        Runtime(own_models).model("nffa-classifier")


def test_garbage_with_a_matching_card_is_unavailable_not_a_crash(tmp_path):
    write_model(tmp_path, "nffa-classifier", b"this is not an onnx model", "classifier", 64, 3)
    with pytest.raises(ModelUnavailable, match=r"nffa-classifier\.onnx cannot be loaded by onnxruntime"):
        Runtime(tmp_path).model("nffa-classifier")


def test_model_without_required_output_is_unavailable(tmp_path):
    write_model(tmp_path, "nffa-classifier", autoencoder_onnx(64), "classifier", 64, 1)
    with pytest.raises(ModelUnavailable, match="lacks the output 'probs'"):
        Runtime(tmp_path).model("nffa-classifier")


def test_card_shaped_input_that_the_model_refuses_fails_at_warm_up(tmp_path):
    write_model(tmp_path, "nffa-classifier", classifier_onnx(64), "classifier", 64, 3,
                input={"height": 48, "width": 48})
    with pytest.raises(ModelUnavailable, match="warm-up"):
        Runtime(tmp_path).model("nffa-classifier")


def test_failure_is_remembered_until_the_file_is_repaired(own_models, tmp_path):
    good = own_models / "nffa-classifier.onnx"
    backup = tmp_path / "backup.onnx"
    shutil.copy2(good, backup)
    good.write_bytes(b"broken")
    rt = Runtime(own_models)
    with pytest.raises(ModelUnavailable) as first:
        rt.model("nffa-classifier")
    with pytest.raises(ModelUnavailable) as second:
        rt.model("nffa-classifier")
    assert second.value is first.value  # not re-hashed or re-parsed
    shutil.copy2(backup, good)
    assert rt.model("nffa-classifier").name == "nffa-classifier"


def test_batched_rows_equal_single_rows(runtime):
    model = runtime.model("nffa-classifier")
    rng = np.random.default_rng(0)
    batch = rng.normal(0, 1, (5, 3, 64, 64)).astype(np.float32)
    together = model.infer(batch, ["probs", "cams"])
    for i in range(5):
        alone = model.infer(batch[i:i + 1], ["probs", "cams"])
        np.testing.assert_allclose(together["probs"][i], alone["probs"][0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(together["cams"][i], alone["cams"][0], rtol=1e-5, atol=1e-5)


def test_backlog_from_many_threads_runs_as_batches_with_each_caller_getting_its_rows(own_models):
    model = Runtime(own_models, max_batch=4).model("nffa-classifier")
    rng = np.random.default_rng(1)
    inputs = [rng.normal(0, 1, (1, 3, 64, 64)).astype(np.float32) for _ in range(10)]
    expected = [model.infer(x, ["probs"])["probs"][0] for x in inputs]
    runs_before = model.stats.runs
    results: dict[int, np.ndarray] = {}

    def ask(i: int) -> None:
        results[i] = model.infer(inputs[i], ["probs"])["probs"][0]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(10)]
    with model.hold():
        for t in threads:
            t.start()
        while model.pending() < 10:
            threading.Event().wait(0.005)
    for t in threads:
        t.join()
    assert model.stats.runs - runs_before == 3  # 4 + 4 + 2 rows
    assert model.stats.largest == 4
    for i in range(10):
        np.testing.assert_allclose(results[i], expected[i], rtol=1e-5, atol=1e-6)


def test_a_malformed_request_fails_alone_and_spares_the_backlog(own_models):
    model = Runtime(own_models).model("nffa-classifier")
    outcome: dict[str, object] = {}

    def ask(key: str, shape: tuple) -> None:
        try:
            outcome[key] = model.infer(np.zeros(shape, np.float32), ["probs"])["probs"].shape
        except Exception as exc:  # onnxruntime's own error type for a wrong input shape
            outcome[key] = exc

    threads = [threading.Thread(target=ask, args=("bad", (1, 3, 10, 10))),
               threading.Thread(target=ask, args=("good", (2, 3, 64, 64)))]
    with model.hold():
        for t in threads:
            t.start()
            while model.pending() < threads.index(t) + 1:
                threading.Event().wait(0.005)
    for t in threads:
        t.join()
    assert isinstance(outcome["bad"], Exception)
    assert outcome["good"] == (2, 10)


def test_fixed_batch_of_one_model_is_never_batched(tmp_path):
    write_model(tmp_path, "nffa-classifier", classifier_onnx(64, batch=1), "classifier", 64, 3)
    assert Runtime(tmp_path, max_batch=8).model("nffa-classifier").max_batch == 1


def test_card_with_wrong_normalisation_length_is_unavailable(tmp_path):
    card = write_model(tmp_path, "nffa-classifier", classifier_onnx(64), "classifier", 64, 3)
    doc = json.loads(card.read_text())
    doc["input"]["mean"] = [0.5]
    card.write_text(json.dumps(doc))
    with pytest.raises(ModelUnavailable, match="mean/std"):
        Runtime(tmp_path).model("nffa-classifier")
