"""Property-based fuzzing: text parsers, vendor mappings and mutated TIFF headers.

Whatever the input, the only exception that may come out is ReaderError; nothing hangs, and
reading a mutated file never allocates much more than the file could honestly hold.
"""
from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reader_synth import ascii_tag, fei_ini, sem_image, write_fei, write_tescan, write_tiff, zeiss_text

from nanoaid_daemon.errors import ReaderError
from nanoaid_daemon.metadata import Instrument
from nanoaid_daemon.readkit import (
    MetadataBuilder,
    UnitError,
    decode_text,
    parse_dollar_lines,
    parse_ini,
    parse_magnification,
    parse_number,
    parse_xml,
    split_quantity,
)
from nanoaid_plugins.reader_fei._fei import FeiHeader, fei_instrument, image_rows
from nanoaid_plugins.reader_hitachi._hitachi import hitachi_instrument
from nanoaid_plugins.reader_jeol._jeol import jeol_instrument
from nanoaid_plugins.reader_tescan._tescan import block_sections, parse_blocks, tescan_instrument
from nanoaid_plugins.reader_zeiss._api import zeiss_instrument
from nanoaid_plugins.reader_zeiss._cz_sem import parse_cz_sem

FAST = settings(max_examples=300, deadline=5000, suppress_health_check=[HealthCheck.too_slow])

values = st.one_of(
    st.sampled_from(["", "notafloat", "nan", "-inf", "1e999", "-0", "0", "4.41942e-007", "1,5", "100%", "5 kV",
                     "80.0 ?A", "50.00 K X", "x1.2k", "12 furlongs", "-1.2e-005", "\xb5", "1e-320"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=12),
)
keys = st.sampled_from(["HV", "WD", "BeamCurrent", "HFW", "VFW", "Dwelltime", "Dwell", "PixelWidth", "PixelHeight",
                        "ResolutionX", "ResolutionY", "ChPressure", "StageX", "StageR", "StageT", "ScanRotation",
                        "Date", "Time", "Beam", "Scan", "SystemType", "Name", "MagCanvasRealWidth",
                        "TimeOfCreation", "EmissionCurrent", "WorkingDistance"])
sections = st.sampled_from(["User", "System", "Beam", "EBeam", "IRBeam", "Scan", "EScan", "Stage", "Image",
                            "Vacuum", "Detectors", "PrivateFei", "MAIN", "SEM", "SemImageFile"])
ini_text = st.lists(st.tuples(sections, st.lists(st.tuples(keys, values), max_size=8)), max_size=8).map(
    lambda secs: fei_ini(**{name: dict(pairs) for name, pairs in secs}))


@FAST
@given(st.text(max_size=400))
def test_text_parsers_accept_any_text(text):
    assert isinstance(parse_ini(text), dict)
    assert isinstance(parse_ini(text, default_section="MAIN"), dict)
    assert isinstance(parse_dollar_lines(text), dict)
    header = parse_cz_sem(text)
    assert isinstance(header.raw(), dict)


@FAST
@given(st.binary(max_size=400))
def test_decoding_accepts_any_bytes(data):
    assert isinstance(decode_text(data), str)


@FAST
@given(st.one_of(st.text(max_size=300), st.lists(st.sampled_from(
    ["<a>", "</a>", "<b x='1'>", "</b>", "text", "<!ENTITY e 'x'>", "&e;", "<?xml version='1.0'?>", "<c/>"]),
    max_size=30).map("".join)))
def test_xml_parser_raises_only_reader_error(text):
    try:
        assert isinstance(parse_xml(text), dict)
    except ReaderError:
        pass


@FAST
@given(st.text(max_size=30))
def test_number_parsers_raise_only_unit_error(text):
    for parse in (parse_number, parse_magnification, split_quantity):
        try:
            parse(text)
        except UnitError:
            pass


@FAST
@given(ini_text, st.integers(1, 5000), st.one_of(st.none(), st.text(max_size=200)))
def test_fei_mapping_survives_any_values(text, width, xml):
    b = MetadataBuilder("fuzz.tif", "FEI")
    try:
        tree = parse_xml(xml) if xml else None
    except ReaderError:
        tree = None
    header = FeiHeader(parse_ini(text), tree)
    assert isinstance(fei_instrument(header, b, width), Instrument)
    image_rows(header, b)


@FAST
@given(ini_text, st.integers(1, 5000))
def test_tescan_and_hitachi_mappings_survive_any_values(text, width):
    sections_ = parse_ini(text)
    assert isinstance(tescan_instrument(sections_, MetadataBuilder("t"), width), Instrument)
    assert isinstance(hitachi_instrument(sections_, MetadataBuilder("h"), width), Instrument)


@FAST
@given(st.dictionaries(st.sampled_from(["$CM_ACCEL_VOLT", "$CM_MAG", "$$SM_WD", "$CM_DATE", "$CM_TIME",
                                        "$CM_STAGE_POS", "$$SM_MICRON_BAR", "$$SM_MICRON_MARKER", "$CM_FULL_SIZE"]),
                       values), st.integers(1, 5000))
def test_jeol_mapping_survives_any_values(entries, width):
    text = "\r\n".join(f"{k} {v}" for k, v in entries.items())
    assert isinstance(jeol_instrument(parse_dollar_lines(text), MetadataBuilder("j"), width), Instrument)


@FAST
@given(st.dictionaries(st.sampled_from(["AP_ACTUALKV", "AP_MAG", "AP_WD", "AP_IPROBE", "DP_DWELL_TIME", "AP_DATE",
                                        "AP_TIME", "AP_STAGE_AT_X", "AP_STAGE_AT_T", "DP_IMAGE_STORE",
                                        "AP_PIXEL_SIZE", "AP_CHAMBER_PRESSURE", "DP_SCAN_ROT"]),
                       values.map(lambda v: f"Label = {v}")),
       st.lists(values, max_size=5), st.integers(1, 5000))
def test_zeiss_mapping_survives_any_values(entries, numbers, width):
    header = parse_cz_sem(zeiss_text(entries, numbers))
    assert isinstance(zeiss_instrument(header, MetadataBuilder("z"), width), Instrument)


@FAST
@given(st.one_of(st.binary(max_size=300),
                 st.lists(st.tuples(st.integers(0, 6), st.binary(max_size=60)), max_size=6).map(
                     lambda blocks: b"".join(len(p + b"xx").to_bytes(4, "little") + t.to_bytes(2, "little") + p
                                             for t, p in blocks))))
def test_tescan_block_parser_raises_only_reader_error(data):
    try:
        blocks = parse_blocks(data)
    except ReaderError:
        return
    assert isinstance(block_sections(blocks), dict)


def _seeds(folder: Path) -> list[Path]:
    image = sem_image(40, 48, databar=10)
    ini = fei_ini(Beam={"HV": "5000", "Beam": "EBeam"}, EBeam={"WD": "0.004"}, Image={"ResolutionY": "30"})
    return [
        write_fei(folder / "fei.tif", ini, image=image),
        write_tiff(folder / "zeiss.tif", image, [ascii_tag(34118, zeiss_text({"AP_WD": "WD = 5 mm"}))]),
        write_tescan(folder / "tescan.tif", {"MAIN": {"ImageStripSize": "10"}, "SEM": {"HV": "1"}}, image),
        write_tiff(folder / "plain.tif", image, compression="zlib"),
        write_tiff(folder / "palette.tif", image, photometric="palette",
                   colormap=np.tile(np.arange(256, dtype=np.uint16) * 257, (3, 1))),
        write_tiff(folder / "stack.tif", np.stack([image, image]), photometric="minisblack", bigtiff=True),
    ]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seeds")
    return [(path.name, path.read_bytes()) for path in _seeds(folder)]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("mutants")


@settings(max_examples=600, deadline=5000, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_tiff_headers_give_reader_errors_only(host, seeds, scratch, data):
    name, seed = data.draw(st.sampled_from(seeds))
    mutated = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, min(len(mutated) - 1, 600)) | st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        mutated = mutated[: data.draw(st.integers(0, len(mutated)))]
    path = scratch / name
    path.write_bytes(bytes(mutated))
    limit = (1100 if name == "plain.tif" else 16) * len(mutated) + (2 << 20)  # deflate may inflate
    try:
        chosen = host.pick_reader(path).obj  # every sniff runs, and none may raise
    except ReaderError:
        chosen = None
    for reader in [chosen] + [p.obj for p in host.readers if p.obj is not chosen]:
        if reader is None:
            continue
        tracemalloc.start()
        try:
            reader.read(path)  # straight to the reader: the host would mask a stray exception
        except ReaderError:
            pass
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert peak < limit, f"{reader.name} read a {len(mutated)}-byte file allocating {peak:,} bytes"
