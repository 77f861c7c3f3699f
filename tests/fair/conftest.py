"""A session folder with one frame per reader (real vendor files where they exist) and its sidecars."""
from __future__ import annotations

import codecs
import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

#: Real vendor files from ../shared, one or more per reader that has real data.
REAL_FILES = {
    "zeiss": "rosettasciio/test_tiff_Zeiss_SEM_1k.tif",
    "fei": "rosettasciio/FEI-Helios-Ebeam-8bits.tif",
    "fei-navcam": "rosettasciio/FEI-Helios-navcam.tif",
    "fei-quanta": "nexuslims/quanta_image.tif",
    "fei-scios": "nexuslims/scios_xml_metadata.tif",
    "tescan": "nexuslims/tescan-pfib_dataZeroed.tif",
    "generic": "rosettasciio/test_loading_image_saved_with_imageJ.tif",
}
HITACHI_TEXT = {
    "InstructName": "SU8230", "SerialNumber": "HT-123", "Date": "2021/06/23", "Time": "09:08:07",
    "DataSize": "640x480", "PixelSize": "24.80", "SignalName": "SE", "AcceleratingVoltage": "15000 Volt",
    "Magnification": "1200", "WorkingDistance": "7920.5 um", "EmissionCurrent": "46900 nA",
    "StagePositionX": "37500000", "StagePositionY": "25000000", "StagePositionZ": "8000000",
    "StagePositionR": "0", "StagePositionT": "5.0",
}


def _speckle(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((height, width)) * 200 + 20).astype(np.uint8)


def _copy_real(real_sem: Path, folder: Path) -> None:
    for key, rel in REAL_FILES.items():
        source = real_sem / rel
        shutil.copyfile(source, folder / f"{key}-{source.name}")
        header = source.with_suffix(".hdr")
        if header.exists():  # TESCAN keeps its header beside the image
            shutil.copyfile(header, folder / f"{key}-{header.name}")


def _make_paired(real_sem: Path, folder: Path) -> None:
    """JEOL (the real text sidecar) and Hitachi (its documented INI layout) pair an image with a .txt."""
    tifffile.imwrite(folder / "jeol-sample_001.tif", _speckle(480, 640, 1))
    shutil.copyfile(real_sem / "nexuslims" / "text_preview_jeol_ansi.txt", folder / "jeol-sample_001.txt")
    tifffile.imwrite(folder / "hitachi-sample_002.tif", _speckle(480, 640, 2))
    text = "[SemImageFile]\r\n" + "".join(f"{k}={v}\r\n" for k, v in HITACHI_TEXT.items())
    (folder / "hitachi-sample_002.txt").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))


@pytest.fixture(scope="session")
def vendor_session(real_sem: Path, tmp_path_factory) -> Path:
    """A session folder as an instrument leaves it: frames of every reader, with their text sidecars."""
    folder = tmp_path_factory.mktemp("session")
    _copy_real(real_sem, folder)
    with gzip.open(real_sem / "rosettasciio" / "ZEISS_SEM_multipage.tif.gz", "rb") as src:
        (folder / "zeiss-multipage.tif").write_bytes(src.read())
    _make_paired(real_sem, folder)
    return folder


def frames_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix == ".tif")


@pytest.fixture(scope="session")
def processed_session(vendor_session: Path) -> Path:
    """The session processed once by ``nanoaid process``: sidecars and previews beside the frames."""
    cmd = [sys.executable, "-m", "nanoaid_daemon.cli", "process", "--json", *map(str, frames_in(vendor_session))]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(done.stdout.splitlines()) == len(frames_in(vendor_session))
    return vendor_session


@pytest.fixture(scope="session")
def sidecars(processed_session: Path) -> dict[str, dict]:
    """Sidecar documents by frame name."""
    return {
        p.name[: -len(".nanoaid.json")]: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(processed_session.glob("*.nanoaid.json"))
    }
