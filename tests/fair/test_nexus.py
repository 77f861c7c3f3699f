"""``nanoaid export nexus``: NXem files that pass pynxtools' own validation, on every real vendor file.

The export also compares pynxtools-em's parse of each vendor file with NanoAID's reader: every
value both read is printed, and a disagreement not in the reviewed list below fails the test.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

pytest.importorskip("pynxtools", reason="the [nexus] extra is not installed")

#: Files the readers refuse (see tests/readers): nothing to export.
NOT_FRAMES = {"quanta_bad_metadata.tif", "quanta_just_modded_mdata.tif"}
#: Reviewed disagreements, (file, quantity) → why NanoAID's value is the right one.
BUILD_NUMBER = "pynxtools-em reads [System] BuildNr (the software build) as the serial; Dnumber is the serial"
KNOWN = {
    ("FEI-Helios-Ebeam-8bits.tif", "serial"): BUILD_NUMBER,
    ("FEI-Helios-Ebeam-16bits.tif", "serial"): BUILD_NUMBER,
    ("FEI-Helios-navcam.tif", "serial"): BUILD_NUMBER,
    ("FEI-Helios-navcam-with-no-IRBeam-bad-floats.tif", "serial"): BUILD_NUMBER,
    ("quanta_image.tif", "serial"): BUILD_NUMBER,
    ("scios_xml_metadata.tif", "serial"): BUILD_NUMBER,
    ("tescan-pfib_dataZeroed.tif", "model"): "pynxtools-em writes the header's Device twice",
}
#: Frames NXem cannot describe completely, and the concept each lacks. A Nav-Cam frame is an optical
#: photo of the stage: no scan, so no dwell time. An ImageJ export keeps no acquisition time.
INCOMPLETE = {
    "FEI-Helios-navcam.tif": "scan_controller/dwell_time",
    "FEI-Helios-navcam-with-no-IRBeam-bad-floats.tif": "scan_controller/dwell_time",
    "test_loading_image_saved_with_imageJ.tif": "/entry1/start_time",
}
ELN = """\
sample:
  name: reference specimen
  atom_types: "Si, O"
  preparation_date: "2024-05-01T09:00:00+02:00"
user:
  - name: Facility Operator
    affiliation: SEM facility
"""


def _nanoaid(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nanoaid_daemon.cli", *args],
                          capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def exported(real_sem: Path, tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    session = tmp_path_factory.mktemp("real")
    for path in sorted(real_sem.glob("*/*")):
        if path.suffix in (".tif", ".hdr") and path.name not in NOT_FRAMES:
            shutil.copyfile(path, session / path.name)
    with gzip.open(real_sem / "rosettasciio" / "ZEISS_SEM_multipage.tif.gz", "rb") as src:
        (session / "ZEISS_SEM_multipage.tif").write_bytes(src.read())
    frames = [str(p) for p in sorted(session.glob("*.tif"))]
    processed = _nanoaid("process", "--json", *frames)
    assert processed.returncode == 0, processed.stderr[-2000:]
    (session / "eln.yaml").write_text(ELN, encoding="utf-8")
    out = session / "nexus"
    done = _nanoaid("export", "nexus", *frames, "--out", str(out), "--eln", str(session / "eln.yaml"), "--json")
    results = {Path(doc["frame"]).name: doc for doc in map(json.loads, done.stdout.splitlines())}
    assert set(results) == {Path(f).name for f in frames}, done.stderr[-3000:]
    return session, results


def test_every_real_vendor_file_gives_a_valid_nxem_file(exported):
    _, results = exported
    invalid = {name: doc["problems"] for name, doc in results.items() if not doc["valid"]}
    assert set(invalid) == set(INCOMPLETE), invalid
    for name, concept in INCOMPLETE.items():
        assert [p for p in invalid[name] if concept in p] == invalid[name], invalid[name]
    assert all((Path(doc["nexus"])).is_file() for doc in results.values())


def test_an_acquisition_time_from_the_eln_completes_a_file_that_kept_none(exported, tmp_path):
    session, _ = exported
    eln = tmp_path / "eln.yaml"
    eln.write_text(ELN + "entry:\n  start_time: '2017-03-01T10:00:00+01:00'\n", encoding="utf-8")
    frame = session / "test_loading_image_saved_with_imageJ.tif"
    done = _nanoaid("export", "nexus", str(frame), "--out", str(tmp_path), "--eln", str(eln), "--json")
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert json.loads(done.stdout)["valid"]


def test_readers_agree_with_pynxtools_em_except_where_reviewed(exported):
    _, results = exported
    print("\nfile | quantity | NanoAID | pynxtools-em | unit | verdict")
    both = differ = 0
    unexpected = []
    for name, doc in sorted(results.items()):
        for row in doc["comparison"]:
            verdict = {True: "agree", False: "DIFFER", None: "one side"}[row["agree"]]
            values = f"{row['nanoaid']} | {row['pynxtools_em']} | {row['unit'] or ''}"
            print(f"{name} | {row['quantity']} | {values} | {verdict}")
            if row["agree"] is not None:
                both += 1
                differ += row["agree"] is False
            if row["agree"] is False and (name, row["quantity"]) not in KNOWN:
                unexpected.append((name, row["quantity"], row["nanoaid"], row["pynxtools_em"]))
    print(f"{both} values read by both, {differ} differ")
    assert both >= 40, "the comparison found too few shared values to be a check"
    assert not unexpected, f"new disagreements with pynxtools-em, review each: {unexpected}"


def test_the_file_holds_the_frame_results_previews_and_the_sidecar(exported):
    session, results = exported
    name = "FEI-Helios-Ebeam-8bits.tif"
    sidecar_path = session / (name + ".nanoaid.json")
    sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    with h5py.File(results[name]["nexus"], "r") as h5:
        image = h5["entry1/roi1/img/image1"]
        frame = image["image_2d/real"][()]
        assert frame.shape == (sidecar["frame"]["height_px"] - sidecar["frame"]["databar_rows"],
                               sidecar["frame"]["width_px"])
        scores = image["nanoaid_classification/scores"][()]
        assert scores.sum() == pytest.approx(1.0, abs=1e-3)
        assert np.allclose(scores, list(sidecar["classification"]["scores"].values()))
        assert np.allclose(image["nanoaid_orientation/energy_share"][()], sidecar["alignment"]["histogram"]["counts"])
        kinds = {key[len("preview_"):] for key in image if key.startswith("preview_")}
        assert kinds == {p["kind"] for p in sidecar["previews"]}
        note = h5["entry1/nanoaid_sidecar"]
        assert note["checksum"][()].decode() == hashlib.sha256(sidecar_path.read_bytes()).hexdigest()
        assert json.loads(note["description"][()].decode()) == sidecar


def test_without_sample_facts_the_export_says_what_nxem_still_needs(exported, tmp_path):
    session, _ = exported
    frame = session / "test_tiff_Zeiss_SEM_1k.tif"
    done = _nanoaid("export", "nexus", str(frame), "--out", str(tmp_path), "--json")
    assert done.returncode == 1
    [doc] = map(json.loads, done.stdout.splitlines())
    assert not doc["valid"] and any("atom_types" in p for p in doc["problems"])
    assert (tmp_path / (frame.name + ".nxs")).is_file()


def test_a_frame_without_sidecar_is_refused_by_name(tmp_path, real_sem):
    frame = tmp_path / "lonely.tif"
    shutil.copyfile(real_sem / "rosettasciio" / "test_tiff_Zeiss_SEM_1k.tif", frame)
    done = _nanoaid("export", "nexus", str(frame), "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "lonely.tif" in done.stderr and "has no sidecar" in done.stderr
    assert not (tmp_path / "out" / "lonely.tif.nxs").exists()
