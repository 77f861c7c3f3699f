"""The catalogue answers exactly: every query on a constructed set returns precisely the frames it should."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from nanoaid_daemon.sidecar import CLASSES
from nanoaid_daemon.uploader.catalogue import Catalogue
from nanoaid_daemon.uploader.query import QueryError
from nanoaid_daemon.uploader.rebuild import RebuildReport, from_folders, rebuild

from .factory import FrameSpec, correct, make_frame

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=timezone.utc)


def _specs() -> list[FrameSpec]:
    rng = random.Random(7)
    specs = []
    for i in range(90):
        label = CLASSES[i % len(CLASSES)] if i % 3 else "Nanowires"
        specs.append(FrameSpec(
            name=f"{'wafer' if i % 4 == 0 else 'grid'}_{i:03d}.tif", label=label, seed=i,
            score=round(rng.uniform(0.2, 1.0), 3),
            coherency=round(rng.uniform(0.6 if label == "Nanowires" else 0.0, 1), 3),
            aligned_fraction=round(rng.uniform(0, 1), 3), vendor=rng.choice(["Zeiss", "Thermo Fisher/FEI", "JEOL"]),
            model=rng.choice(["GeminiSEM 500", "Helios G4", "JSM-7800F"]),
            detector=rng.choice(["SE2", "InLens", "ETD"]),
            beam_kv=rng.choice([1.0, 2.0, 5.0, 15.0]),
            mag=rng.choice([5000.0, 10000.0, 25000.0, 100000.0] if label == "Nanowires" else [500.0, 5000.0, 25000.0]),
            pixel_nm=rng.choice([0.5, 2.0, 10.0]), acquired_at=NOW - timedelta(days=i * 0.5, hours=1),
            operator=rng.choice(["alice", "bob", "chen"]), sample=rng.choice(["ZnO wires batch 7", "Au particles"]),
            previews=0))
    return specs


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("catalogue")
    specs, sidecars = _specs(), {}
    for spec in specs:
        _, side, doc = make_frame(tmp / "watch", spec)
        sidecars[spec.name] = (side, doc)
    for name in ("grid_001.tif", "grid_002.tif"):
        correct(sidecars[name][0], "Tips", operator="dana", comment="needle apex, not a wire")
    cat = Catalogue(tmp / "catalogue.sqlite3")
    report = RebuildReport()
    rebuild(cat, from_folders([tmp / "watch"], {}, report))
    assert report.problems == []
    yield cat, specs, tmp
    cat.close()


def _derived(spec):
    corrected = spec.name in ("grid_001.tif", "grid_002.tif")
    decision = "accepted" if spec.score >= 0.8 or corrected else "review" if spec.score >= 0.35 else "unknown"
    return {"label": "Tips" if corrected else spec.label, "corrected": corrected, "decision": decision}


CASES = [
    ("label:Nanowires coherency>0.8 mag>10000 after:2026-03-13T12:00Z",
     lambda s, d: d["label"] == "Nanowires" and s.coherency > 0.8 and s.mag > 10000
     and s.acquired_at >= NOW - timedelta(days=7)),
    ("label:nanowires coherency>0.8 mag>10kx after:7d",
     lambda s, d: d["label"] == "Nanowires" and s.coherency > 0.8 and s.mag > 10000
     and s.acquired_at >= NOW - timedelta(days=7)),
    ("decision:review vendor:JEOL", lambda s, d: d["decision"] == "review" and s.vendor == "JEOL"),
    ("-decision:accepted detector:inlens", lambda s, d: d["decision"] != "accepted" and s.detector == "InLens"),
    ("kv<=2 pixel<1", lambda s, d: s.beam_kv <= 2 and s.pixel_nm < 1),
    ("aligned>=0.5 aligned<0.75 score>0.5", lambda s, d: 0.5 <= s.aligned_fraction < 0.75 and s.score > 0.5),
    ("score.Nanowires>0.9", lambda s, d: s.label == "Nanowires" and s.score > 0.9),
    ("model:helios* operator!=alice", lambda s, d: s.model.startswith("Helios") and s.operator != "alice"),
    ("vendor:\"Thermo Fisher/FEI\" before:2026-03-10", lambda s, d: s.vendor == "Thermo Fisher/FEI"
     and s.acquired_at < datetime(2026, 3, 10, tzinfo=timezone.utc)),
    ("corrected:yes", lambda s, d: d["corrected"]),
    ("corrected:no label:Tips", lambda s, d: not d["corrected"] and d["label"] == "Tips"),
    ("label:Tips -predicted:Tips", lambda s, d: d["label"] == "Tips" and s.label != "Tips"),
    ("wafer", lambda s, d: s.name.startswith("wafer")),
    ("\"ZnO wires\" mag:25000", lambda s, d: s.sample.startswith("ZnO") and s.mag == 25000),
    ("-wafer sample:\"au particles\"", lambda s, d: not s.name.startswith("wafer") and s.sample == "Au particles"),
    ("apex", lambda s, d: d["corrected"]),
    ("waf*", lambda s, d: s.name.startswith("wafer")),
    ("", lambda s, d: True),
]


@pytest.mark.parametrize("query,predicate", CASES, ids=[c[0] or "(empty)" for c in CASES])
def test_query_returns_exactly_the_matching_frames(catalogue, query, predicate):
    cat, specs, _ = catalogue
    expected = sorted(s.name for s in specs if predicate(s, _derived(s)))
    got = sorted(h["name"] for h in cat.search(query, now=NOW, zone=timezone.utc))
    assert got == expected
    if query:
        assert 0 < len(expected) < len(specs), "a case that matches nothing or everything proves little"


def test_hits_carry_ids_paths_and_are_newest_first(catalogue):
    cat, specs, tmp = catalogue
    hits = cat.search("operator:chen", now=NOW, zone=timezone.utc)
    assert [h["acquired_at"] for h in hits] == sorted((h["acquired_at"] for h in hits), reverse=True)
    assert all(len(h["frame_id"]) == 64 and h["frame_path"].startswith(str(tmp)) for h in hits)
    assert all(h["sidecar_path"].endswith(".nanoaid.json") for h in hits)


def test_bare_date_is_midnight_in_the_given_zone(catalogue):
    cat, specs, _ = catalogue
    plus_five = timezone(timedelta(hours=5))
    got = {h["name"] for h in cat.search("after:2026-03-19", now=NOW, zone=plus_five)}
    cutoff = datetime(2026, 3, 19, tzinfo=plus_five)
    assert got == {s.name for s in specs if s.acquired_at >= cutoff}


@pytest.mark.parametrize("query,message", [
    ("colour:red", "unknown field 'colour'"),
    ("label:Nanowire", "not one of"),
    ("mag>lots", "needs a number"),
    ("coherency:high", "needs a number"),
    ("label>3", "is text"),
    ("after:last-tuesday", "neither a date"),
    ("after>2026-01-01", "takes a date"),
    ("corrected:maybe", "yes or no"),
    ('"unclosed', "unbalanced quote"),
    ("score.Dust>0.5", "not one of"),
    ("***", "no letters or digits"),
    ("after:99999999999999d", "before year 1"),
    (" ".join(f"mag>{i}" for i in range(1200)), "more than 200 terms"),
])
def test_bad_query_says_what_is_wrong(catalogue, query, message):
    with pytest.raises(QueryError, match=message):
        catalogue[0].search(query)


def test_reindexing_a_frame_replaces_its_row_and_text(tmp_path):
    _, side, doc = make_frame(tmp_path, FrameSpec(name="one.tif", label="Particles"))
    with Catalogue(tmp_path / "c.sqlite3") as cat:
        cat.upsert(doc, location="/a/1", version=1)
        new = correct(side, "Powder", comment="agglomerated powder")
        cat.upsert(new, location="/a/1", version=2)
        assert cat.count() == 1
        assert cat.search("label:Particles") == [] and cat.search("agglomerated")[0]["version"] == 2
        [hit] = cat.search("score.Particles>0.5 predicted:Particles")  # scores and prediction stay the model's
        assert (hit["label"], hit["predicted"], hit["decision"]) == ("Powder", "Particles", "accepted")
