"""The sidecar and event contracts: generated schemas match the checked-in copies."""
from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from nanoaid_daemon.events import Event
from nanoaid_daemon.metadata import Instrument, Kilovolts
from nanoaid_daemon.schema import SCHEMAS, schema_json, schema_path
from nanoaid_daemon.sidecar import FrameInfo, Provenance, Sidecar, Software, sidecar_name


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_checked_in_schema_matches_models(name):
    assert schema_path(name).read_text(encoding="utf-8") == schema_json(name), (
        f"{schema_path(name)} drifted from the models: run `python -m nanoaid_daemon.schema` and review the diff"
    )


def test_quantity_refuses_a_foreign_unit():
    with pytest.raises(ValidationError):
        Instrument(beam_energy={"value": 5000, "unit": "V"})
    assert Instrument(beam_energy=Kilovolts(value=5)).model_dump()["beam_energy"] == {"value": 5.0, "unit": "kV"}


def test_quantity_refuses_nan():
    with pytest.raises(ValidationError):
        Kilovolts(value=float("nan"))


def _minimal_sidecar() -> Sidecar:
    frame = FrameInfo(name="a.tif", path="x/a.tif", sha256="0" * 64, size_bytes=10, media_type="image/tiff",
                      width_px=4, height_px=4, dtype="uint8", pages=1, databar_rows=0, reader="generic")
    return Sidecar(frame=frame, provenance=Provenance(software=Software(version="1"), config_hash="c"))


def test_sidecar_json_is_jsonld_and_round_trips():
    doc = json.loads(_minimal_sidecar().to_json())
    assert doc["@context"]["schema"] == "https://schema.org/" and "@vocab" not in doc["@context"]
    assert doc["schema_version"] == "nanoaid.sidecar/1"
    assert doc["id"].startswith("urn:uuid:")
    assert Sidecar.model_validate(doc).frame.sha256 == "0" * 64


def test_sidecar_refuses_unknown_top_level_key():
    doc = json.loads(_minimal_sidecar().to_json())
    doc["surprise"] = 1
    with pytest.raises(ValidationError):
        Sidecar.model_validate(doc)


def test_sidecar_name_keeps_the_full_frame_name():
    assert sidecar_name("img.tif") != sidecar_name("img.png")
    assert sidecar_name("img.tif") == "img.tif.nanoaid.json"


def test_event_is_two_json_parts_with_topic_first():
    topic, body = Event(seq=3, type="frame.processed", frame_id="a" * 64).frames()
    assert topic == b"frame.processed"
    assert json.loads(body)["seq"] == 3
