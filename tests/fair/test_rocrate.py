"""``nanoaid export rocrate``: a 20-frame session as an RO-Crate, read back by the rocrate library."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from pyld import jsonld

rocrate = pytest.importorskip("rocrate.rocrate", reason="the [rocrate] extra is not installed")

from nanoaid_daemon.modelcard import load_card  # noqa: E402


def _nanoaid(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nanoaid_daemon.cli", *args], capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    """20 vendor TIFFs (two of each class) in class folders, processed as the daemon would."""
    folder = tmp_path_factory.mktemp("session") / "2026-12-03_sample-A"
    made = _nanoaid("synth", str(folder), "--per-class", "2", "--format", "tiff", "--size", "512x442", "--seed", "3")
    assert made.returncode == 0, made.stderr[-2000:]
    (folder / "truth.jsonl").unlink()  # the generator's answer key is no part of an instrument's session
    frames = sorted(map(str, folder.rglob("*.tif")))
    assert len(frames) == 20
    done = _nanoaid("process", "--json", "--root", str(folder), *frames)
    assert done.returncode == 0, done.stderr[-2000:]
    return folder


@pytest.fixture(scope="module")
def crate(session: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("crates") / "crate"
    done = _nanoaid("export", "rocrate", str(session), "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "20 frames" in done.stdout
    return out


def _session_files(session: Path) -> set[str]:
    return {p.relative_to(session).as_posix() for p in session.rglob("*") if p.is_file()}


def test_every_file_of_the_session_is_in_the_crate_with_its_checksum(session, crate):
    read = rocrate.ROCrate(crate)
    files = {e.id: e for e in read.data_entities if "File" in e.type}
    assert _session_files(session) <= set(files)
    for entity_id, entity in files.items():
        data = (crate / entity_id).read_bytes()
        assert entity["sha256"] == hashlib.sha256(data).hexdigest(), entity_id
        assert int(entity["contentSize"]) == len(data)


def test_each_frame_has_a_create_action_from_frame_and_models_to_sidecar_and_previews(session, crate):
    read = rocrate.ROCrate(crate)
    actions = read.get_by_type("CreateAction")
    assert len(actions) == 20
    for action in actions:
        [frame, *models] = action["object"]
        results = {r.id for r in action["result"]}
        assert frame.id + ".nanoaid.json" in results
        sidecar = json.loads((crate / (frame.id + ".nanoaid.json")).read_text(encoding="utf-8"))
        assert {p for p in results if not p.endswith(".json")} == {
            str(Path(frame.id).parent / p["path"]).removeprefix("./") for p in sidecar["previews"]}
        assert action["instrument"]["softwareVersion"]
        assert {m["sha256"] for m in models} == set(sidecar["provenance"]["model_hashes"].values())


def test_the_models_used_travel_with_their_cards(crate):
    cards = sorted((crate / "models").glob("*.card.json"))
    assert cards
    for card_path in cards:
        card = load_card(card_path)
        onnx = card_path.with_name(card.file)
        assert hashlib.sha256(onnx.read_bytes()).hexdigest() == card.sha256


def test_the_metadata_expands_without_losing_a_key_under_the_ro_crate_context(crate):
    """Offline JSON-LD processing with the RO-Crate context the rocrate library ships."""
    shipped = json.loads(resources.files("rocrate").joinpath("data/ro-crate.jsonld").read_text(encoding="utf-8"))
    doc = json.loads((crate / "ro-crate-metadata.json").read_text(encoding="utf-8"))
    base, *extra = doc["@context"] if isinstance(doc["@context"], list) else [doc["@context"]]
    assert base == "https://w3id.org/ro/crate/1.1/context"
    context = [{"@context": shipped["@context"]}["@context"], *extra]

    def offline(url, options=None):
        raise AssertionError(f"tried to fetch {url}")

    local = {**doc, "@context": context}
    options = {"documentLoader": offline, "base": "arcp://name,nanoaid-test/"}  # the crate root, as RO-Crate says
    expanded = jsonld.expand(local, options)
    compacted = jsonld.compact(expanded, {"@context": context}, options)
    graph = {e["@id"]: e for e in compacted["@graph"]}
    for entity in doc["@graph"]:
        assert set(graph[entity["@id"]]) == set(entity), entity["@id"]
    conforms = {c["@id"] for c in graph["./"]["conformsTo"]} if isinstance(graph["./"]["conformsTo"], list) \
        else {graph["./"]["conformsTo"]["@id"]}
    assert "https://w3id.org/ro/wfrun/process/0.5" in conforms


def test_a_crate_is_never_written_over_existing_files(session, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    done = _nanoaid("export", "rocrate", str(session), "--out", str(out))
    assert done.returncode == 2 and "not empty" in done.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_a_folder_without_sidecars_is_refused(tmp_path):
    done = _nanoaid("export", "rocrate", str(tmp_path), "--out", str(tmp_path / "crate"))
    assert done.returncode == 2 and "no sidecars" in done.stderr
    assert not (tmp_path / "crate").exists()
