"""The synthetic SEM generator: determinism, ground truth, vendor files that real readers parse."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import tifffile
from PIL import Image

from nanoaid_daemon.cli import main
from nanoaid_daemon.errors import ConfigError
from nanoaid_daemon.evaluation.inputs import detect_databar, load_grey
from nanoaid_daemon.synth import CLASSES, render, write_frame

SMALL = (192, 256)


def _orientation_and_coherency(image: np.ndarray) -> tuple[float, float]:
    """Image-wide structure tensor: dominant axis (deg, CCW from +x on screen) and coherency."""
    g = image.astype(np.float64)
    gy, gx = np.gradient(g)
    jxx, jyy, jxy = (gx * gx).sum(), (gy * gy).sum(), (gx * gy).sum()
    coherency = math.sqrt((jyy - jxx) ** 2 + 4 * jxy**2) / (jxx + jyy)
    gradient_axis = 0.5 * math.degrees(math.atan2(2 * jxy, jxx - jyy))  # rows grow downwards
    return (-(gradient_axis + 90.0)) % 180.0, coherency


def test_same_seed_gives_identical_frames_and_another_seed_does_not():
    a = render("Particles", 11, size=SMALL)
    b = render("Particles", 11, size=SMALL)
    c = render("Particles", 12, size=SMALL)
    assert np.array_equal(a.image, b.image) and a.meta == b.meta and a.truth == b.truth
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("name", CLASSES)
def test_every_class_renders_a_frame_with_metadata(name):
    frame = render(name, 3, size=SMALL, databar=True)
    assert frame.image.shape == SMALL and frame.image.dtype == np.uint8
    assert 0 < frame.databar_rows < SMALL[0] // 4
    assert frame.pixels.shape == (SMALL[0] - frame.databar_rows, SMALL[1])
    assert frame.pixels.std() > 1.0, "the image proper must not be blank"
    for key in ("pixel_size_nm", "magnification", "beam_energy_kv", "working_distance_mm", "dwell_time_us",
                "detector", "acquired_at"):
        assert key in frame.meta
    assert frame.class_name == name


def test_sixteen_bit_frames_use_the_wide_range():
    frame = render("Films_Coated_Surface", 5, size=SMALL, bits=16, databar=False)
    assert frame.image.dtype == np.uint16 and frame.databar_rows == 0
    assert frame.image.max() > 4096


@pytest.mark.parametrize("angle", [0.0, 30.0, 75.0, 135.0])
def test_aligned_nanowires_show_their_ground_truth_orientation(angle):
    frame = render("Nanowires", 21, size=(384, 512), databar=False, arrangement="aligned", orientation_deg=angle,
                   spread_deg=3.0, count=60, width_px=4.0, detector="InLens", dose=200.0, clutter=False)
    truth = frame.truth
    assert truth["aligned"] is True and truth["orientation_deg"] == pytest.approx(angle)
    assert abs((truth["measured_orientation_deg"] - angle + 90) % 180 - 90) < 2.0
    measured, coherency = _orientation_and_coherency(frame.pixels)
    assert abs((measured - angle + 90) % 180 - 90) < 6.0, (measured, angle)
    assert coherency > 0.3


def test_random_nanowires_are_not_aligned_and_less_coherent():
    aligned = render("Nanowires", 4, size=(384, 512), databar=False, arrangement="aligned", orientation_deg=45,
                     spread_deg=2.0, count=60, detector="InLens", dose=200.0, clutter=False)
    scattered = render("Nanowires", 4, size=(384, 512), databar=False, arrangement="random", count=60,
                       detector="InLens", dose=200.0, clutter=False)
    assert scattered.truth["aligned"] is False and scattered.truth["order_parameter"] < 0.5
    assert aligned.truth["order_parameter"] > 0.95
    assert _orientation_and_coherency(scattered.pixels)[1] < _orientation_and_coherency(aligned.pixels)[1]


def test_realism_switches_change_only_their_own_effect():
    """``edge`` and ``charging`` scale the class's own strength; 1 is the default frame exactly."""
    kw = dict(size=SMALL, databar=False, detector="ETD", clutter=False, arrangement="pads")
    usual = render("MEMS_devices_and_electrodes", 9, **kw)
    assert np.array_equal(usual.image, render("MEMS_devices_and_electrodes", 9, edge=1.0, charging=1.0, **kw).image)
    flat = render("MEMS_devices_and_electrodes", 9, edge=0.0, **kw)
    glow = render("MEMS_devices_and_electrodes", 9, edge=3.0, **kw)
    assert flat.truth == usual.truth == glow.truth  # same specimen, other contrast
    assert not np.array_equal(flat.image, usual.image) and not np.array_equal(glow.image, usual.image)

    def edge_energy(frame) -> float:  # glowing edges: more high-frequency contrast
        g = frame.pixels.astype(np.float64)
        return float(np.abs(np.diff(g, axis=1)).mean())

    assert edge_energy(flat) < edge_energy(glow)
    with pytest.raises(ConfigError, match="edge must be a number >= 0"):
        render("Tips", 1, edge=-1.0)
    with pytest.raises(ConfigError, match="charging must be a number"):
        render("Tips", 1, charging="lots")


def test_bad_requests_are_refused_with_a_clear_error():
    with pytest.raises(ConfigError, match="unknown class"):
        render("Graphene", 1)
    with pytest.raises(ConfigError, match="unknown override"):
        render("Nanowires", 1, orientation=3)
    with pytest.raises(ConfigError, match="bits"):
        render("Tips", 1, bits=12)


def test_fei_tiff_carries_an_ini_header_like_the_instruments(tmp_path, real_sem):
    frame = render("Nanowires", 2, size=(480, 640), databar=True, databar_style="fei")
    path = write_frame(frame, tmp_path / "wires.tif", vendor="fei")
    with tifffile.TiffFile(path) as tif:
        fei = tif.fei_metadata
        assert tif.pages[0].shape == (480, 640)
    with tifffile.TiffFile(real_sem / "rosettasciio" / "FEI-Helios-Ebeam-8bits.tif") as tif:
        real = tif.fei_metadata
    for section in ("User", "System", "Beam", "EBeam", "Scan", "Stage", "Image", "Detectors"):
        assert section in fei and section in real
    meta = frame.meta
    assert fei["Beam"]["HV"] == pytest.approx(meta["beam_energy_kv"] * 1000)
    assert fei["Scan"]["PixelWidth"] == pytest.approx(meta["pixel_size_nm"] * 1e-9, rel=1e-5)
    assert fei["EBeam"]["WD"] == pytest.approx(meta["working_distance_mm"] * 1e-3, rel=1e-5)
    assert fei["Image"]["ResolutionX"] == 640
    assert fei["Image"]["ResolutionY"] == 480 - frame.databar_rows
    assert fei["Detectors"]["Name"] == meta["detector"]
    raw = path.read_bytes()
    assert b"\r\n[Scan]\r\n" in raw and b"e-0" in raw  # CRLF sections, three-digit exponents


def test_zeiss_tiff_parses_with_tifffiles_sem_metadata(tmp_path):
    frame = render("MEMS_devices_and_electrodes", 2, size=(480, 640), databar=True, databar_style="zeiss")
    path = write_frame(frame, tmp_path / "device.tif", vendor="zeiss")
    with tifffile.TiffFile(path) as tif:
        sem = tif.sem_metadata
    meta = frame.meta
    assert sem["ap_actualkv"][1] == pytest.approx(meta["beam_energy_kv"])
    assert sem["ap_wd"][1] == pytest.approx(meta["working_distance_mm"], abs=1e-3)
    assert sem["dp_detector_channel"][1] == meta["detector"]
    assert sem[""][3] * 1024 / 640 == pytest.approx(meta["pixel_size_nm"] * 1e-9, rel=1e-3)
    assert ":" in sem["ap_time"][1] and sem["ap_date"][1]


def test_png_round_trip_keeps_8_and_16_bit_values(tmp_path):
    for bits in (8, 16):
        frame = render("Porous_Sponge", 9, size=(96, 128), bits=bits)
        path = write_frame(frame, tmp_path / f"f{bits}.png")
        assert np.array_equal(np.asarray(Image.open(path)), frame.image)
    with pytest.raises(ConfigError, match="cannot write"):
        write_frame(frame, tmp_path / "f.jpg")


def test_databar_detection_finds_synthetic_and_real_bars(real_sem):
    for seed in range(6):
        for style in ("fei", "zeiss", "plain"):
            frame = render(CLASSES[seed], seed, size=(384, 512), databar=True, databar_style=style)
            assert detect_databar(frame.image) == frame.databar_rows
        assert detect_databar(render(CLASSES[seed], seed, size=(384, 512), databar=False).image) == 0
    assert detect_databar(load_grey(real_sem / "nexuslims" / "quanta_image.tif")) == 943 - 884  # ResolutionY 884
    assert detect_databar(load_grey(real_sem / "rosettasciio" / "test_tiff_Zeiss_SEM_1k.tif")) == 77


def test_synth_command_writes_an_nffa_layout_reproducibly(tmp_path, capsys):
    args = ["--per-class", "1", "--seed", "5", "--size", "160x120", "--classes", "Tips,Powder"]
    assert main(["synth", str(tmp_path / "a"), *args]) == 0
    assert main(["synth", str(tmp_path / "b"), *args, "--workers", "2"]) == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert [f.parts[0] for f in files] == ["Powder", "Tips"]
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    rows = [json.loads(line) for line in (tmp_path / "a" / "truth.jsonl").read_text().splitlines()]
    assert {r["class"] for r in rows} == {"Tips", "Powder"}
    assert main(["synth", str(tmp_path / "c"), "--classes", "Graphene"]) == 2


@pytest.mark.parametrize("vendor,style,reader", [("fei", "fei", "fei"), ("zeiss", "zeiss", "zeiss"),
                                                 ("none", "plain", "generic")])
def test_the_readers_take_synthetic_frames_for_real_ones(tmp_path, vendor, style, reader):
    from nanoaid_daemon.config import load_settings
    from nanoaid_daemon.host import PluginHost

    frame = render("Particles", 8, size=(480, 640), databar=True, databar_style=style)
    host = PluginHost.load(load_settings(), kinds=("reader",))
    read = host.read(write_frame(frame, tmp_path / "p.tif", vendor=vendor))
    page = read.primary
    assert read.reader == reader and page.databar_rows == frame.databar_rows
    assert np.array_equal(page.pixels, frame.pixels)
    if vendor != "none":
        ins = page.instrument
        assert ins.beam_energy.value == pytest.approx(frame.meta["beam_energy_kv"])
        assert ins.pixel_size.x.value == pytest.approx(frame.meta["pixel_size_nm"], rel=1e-3)
        assert ins.working_distance.value == pytest.approx(frame.meta["working_distance_mm"], abs=1e-3)
