"""The sidecar is linked data: every key expands to an absolute IRI of a published vocabulary."""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pyld import jsonld

from nanoaid_daemon.jsonld import NANOAID_NAMESPACE, context_document, sidecar_context
from nanoaid_daemon.sidecar import Sidecar

VOCABULARIES = (
    "https://schema.org/",
    "http://www.w3.org/ns/prov#",
    "http://qudt.org/schema/qudt/",
    "http://qudt.org/vocab/unit/",
    "https://purls.helmholtz-metadaten.de/emg/",
    "http://www.w3.org/2001/XMLSchema#",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    NANOAID_NAMESPACE,
)


def _offline_loader(url, options=None):
    raise AssertionError(f"expansion tried to fetch {url}: the context must be self-contained")


def _expand(doc: dict) -> list:
    return jsonld.expand(doc, {"documentLoader": _offline_loader})


def _predicates(node: Any, found: set[str]) -> set[str]:
    """Every property IRI in an expanded document (JSON literals are values, not walked)."""
    if isinstance(node, list):
        for item in node:
            _predicates(item, found)
    elif isinstance(node, dict):
        if node.get("@type") == "@json":
            return found
        for key, value in node.items():
            if not key.startswith("@"):
                found.add(key)
            _predicates(value, found)
    return found


def _unit_iris(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, list):
        for item in node:
            _unit_iris(item, found)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "http://qudt.org/schema/qudt/unit":
                found.update(v["@id"] for v in value)
            else:
                _unit_iris(value, found)
    return found


def _without_context(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "@context"}


def test_sidecars_of_every_reader_round_trip_through_expansion_losing_no_key(sidecars):
    """Expansion drops any key without an IRI; compacting back must give the sidecar unchanged."""
    readers = {doc["frame"]["reader"] for doc in sidecars.values()}
    assert readers >= {"zeiss", "fei", "tescan", "generic", "jeol", "hitachi"}
    for name, doc in sidecars.items():
        expanded = _expand(doc)
        compacted = jsonld.compact(expanded, {"@context": doc["@context"]}, {"documentLoader": _offline_loader})
        assert _without_context(compacted) == _without_context(doc), f"{name}: a key has no IRI"


def test_every_predicate_is_an_absolute_iri_of_a_published_vocabulary(sidecars):
    for name, doc in sidecars.items():
        for iri in _predicates(_expand(doc), set()):
            assert iri.startswith(VOCABULARIES), f"{name}: {iri} is not in a known vocabulary"


def test_quantities_carry_qudt_units_and_em_glossary_terms(sidecars):
    doc = sidecars["fei-FEI-Helios-Ebeam-8bits.tif"]
    expanded = _expand(doc)
    units = _unit_iris(expanded, set())
    assert {"http://qudt.org/vocab/unit/KiloV", "http://qudt.org/vocab/unit/MilliM",
            "http://qudt.org/vocab/unit/NanoM"} <= units
    predicates = _predicates(expanded, set())
    assert "https://purls.helmholtz-metadaten.de/emg/EMG_00000004" in predicates  # acceleration voltage
    assert "https://purls.helmholtz-metadaten.de/emg/EMG_00000050" in predicates  # working distance


def test_vendor_header_stays_one_json_literal(sidecars):
    doc = sidecars["zeiss-test_tiff_Zeiss_SEM_1k.tif"]
    [node] = _expand(doc)
    [acquisition] = node["https://w3id.org/nanoaid/terms#acquisition"]
    [header] = acquisition["https://w3id.org/nanoaid/terms#vendorHeader"]
    assert header["@type"] == "@json" and header["@value"] == doc["instrument"]["vendor_raw"]


def _refs(node: Any) -> list[str]:
    """The ``$defs`` names a property schema points at (through anyOf, items, additionalProperties)."""
    if isinstance(node, dict):
        found = [node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else []
        for key in ("anyOf", "oneOf", "allOf", "items", "additionalProperties"):
            found += _refs(node.get(key))
        return found
    if isinstance(node, list):
        return [name for item in node for name in _refs(item)]
    return []


def _untermed(schema: dict, definition: dict, context: dict, seen: set[tuple[str, str]]) -> set[str]:
    """Model fields with no term in the context that applies where they occur; JSON literals end the walk."""
    missing: set[str] = set()
    for name, prop in definition.get("properties", {}).items():
        if name == "@context":
            continue
        term = context.get(name)
        if term is None:
            missing.add(name)
            continue
        if isinstance(term, dict) and term.get("@type") == "@json":
            continue
        inner = {**context, **term.get("@context", {})} if isinstance(term, dict) else context
        for ref in _refs(prop):
            if (ref, name) not in seen:
                seen.add((ref, name))
                missing |= {f"{name}.{m}" for m in _untermed(schema, schema["$defs"][ref], inner, seen)}
    return missing


def test_every_field_of_the_sidecar_model_has_a_term():
    """Catches a new sidecar field before any sidecar carries it: each field needs a term where it occurs."""
    schema = Sidecar.model_json_schema(by_alias=True)
    missing = _untermed(schema, schema, sidecar_context(), set())
    assert not missing, f"sidecar fields without a JSON-LD term: {sorted(missing)}"


def test_a_field_without_a_term_is_found_where_it_occurs():
    schema = Sidecar.model_json_schema(by_alias=True)
    context = copy.deepcopy(sidecar_context())
    del context["alignment"]["@context"]["coherency"]
    assert _untermed(schema, schema, context, set()) == {"alignment.coherency"}


def test_the_shipped_context_names_no_placeholder_address():
    text = context_document()
    assert "example.org" not in text and "@vocab" not in json.loads(text)["@context"]


def test_an_unmapped_key_is_caught_by_the_round_trip(sidecars):
    """The round-trip check is not vacuous: a key the context does not know is lost and noticed."""
    doc = copy.deepcopy(next(iter(sidecars.values())))
    doc["alignment_extra"] = 1
    compacted = jsonld.compact(_expand(doc), {"@context": doc["@context"]}, {"documentLoader": _offline_loader})
    assert "alignment_extra" not in compacted


@pytest.mark.parametrize("key", ["classification", "alignment", "provenance", "frame"])
def test_sections_are_present_in_the_expanded_graph(sidecars, key):
    doc = sidecars["fei-FEI-Helios-Ebeam-8bits.tif"]
    term = sidecar_context()[key]["@id"]
    prefix, local = term.split(":", 1)
    iri = sidecar_context()[prefix] + local
    assert iri in _expand(doc)[0]


def test_the_context_is_printed_as_published(capsys):
    from nanoaid_daemon.cli import main

    assert main(["schema", "context"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(context_document())


def test_the_published_copy_in_docs_is_the_shipped_context():
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "sidecar-context-1.jsonld"
    assert docs.read_text(encoding="utf-8") == context_document()
