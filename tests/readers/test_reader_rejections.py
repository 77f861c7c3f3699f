"""Bad files are rejected with a ReaderError that says what is wrong — and with nothing else."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image
from reader_synth import fei_ini, sem_image, write_fei

from nanoaid_daemon.errors import ReaderError

NEGATIVE = ["nexuslims/quanta_bad_metadata.tif", "nexuslims/quanta_just_modded_mdata.tif"]


def all_readers(host):
    return [plugin.obj for plugin in host.readers]


def test_tiff_with_corrupt_directory_is_rejected_as_unreadable(host, real_sem):
    with pytest.raises(ReaderError) as info:
        host.read(real_sem / "nexuslims/quanta_bad_metadata.tif")
    assert info.value.code == "corrupt"
    assert "not a readable TIFF" in str(info.value)


def test_text_saved_as_tif_is_rejected_naming_what_it_is(host, real_sem):
    with pytest.raises(ReaderError) as info:
        host.read(real_sem / "nexuslims/quanta_just_modded_mdata.tif")
    assert info.value.code == "unsupported"
    assert "not a TIFF image" in str(info.value) and "[User]" in str(info.value)


@pytest.mark.parametrize("name", NEGATIVE)
def test_every_reader_refuses_negative_files_with_reader_error_only(host, real_sem, name):
    for reader in all_readers(host):
        with pytest.raises(ReaderError):
            reader.read(real_sem / name)


def test_empty_file_is_rejected_as_empty(host, tmp_path):
    path = tmp_path / "empty.tif"
    path.write_bytes(b"")
    with pytest.raises(ReaderError) as info:
        host.read(path)
    assert info.value.code == "empty"
    for reader in all_readers(host):
        with pytest.raises(ReaderError):
            reader.read(path)


def test_truncated_tiff_is_rejected_as_truncated(host, tmp_path):
    whole = write_fei(tmp_path / "whole.tif", fei_ini(Beam={"HV": "5000"}), image=sem_image(200, 256))
    cut = tmp_path / "cut.tif"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ReaderError) as info:
        host.read(cut)
    assert info.value.code in ("truncated", "corrupt")


def _forge_dimensions(path: Path, width: int, height: int) -> None:
    """Rewrite ImageWidth / ImageLength in place (classic little-endian TIFF from tifffile)."""
    data = bytearray(path.read_bytes())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * i
        code, dtype = struct.unpack_from("<HH", data, entry)
        if code in (256, 257):
            struct.pack_into("<HHII", data, entry, code, 4, 1, width if code == 256 else height)
    path.write_bytes(bytes(data))


def test_forged_huge_dimensions_are_refused_before_allocation(host, tmp_path):
    path = tmp_path / "bomb.tif"
    tifffile.imwrite(path, sem_image(16, 16))
    _forge_dimensions(path, 200_000, 200_000)
    with pytest.raises(ReaderError) as info:
        host.read(path)
    assert info.value.code == "too_large"


def test_dimensions_larger_than_the_stored_data_are_a_truncated_file(host, tmp_path):
    path = tmp_path / "short.tif"
    tifffile.imwrite(path, sem_image(16, 16))
    _forge_dimensions(path, 2000, 2000)
    with pytest.raises(ReaderError) as info:
        host.read(path)
    assert info.value.code == "truncated"


def test_compressed_image_claiming_to_inflate_enormously_is_refused(host, tmp_path):
    path = tmp_path / "zbomb.tif"
    tifffile.imwrite(path, np.zeros((64, 64), np.uint8), compression="zlib")
    _forge_dimensions(path, 20_000, 20_000)
    with pytest.raises(ReaderError) as info:
        host.read(path)
    assert info.value.code == "too_large"


def test_directory_and_vanished_file_are_reader_errors(host, tmp_path):
    with pytest.raises(ReaderError):
        host.read(tmp_path)
    with pytest.raises(ReaderError) as info:
        host.read(tmp_path / "gone.tif")
    assert info.value.code == "vanished"


def test_png_named_tif_is_read_by_content(host, tmp_path):
    path = tmp_path / "export.tif"
    Image.fromarray(sem_image(40, 60)).save(path, format="PNG")
    result = host.read(path)
    assert result.reader == "generic" and result.media_type == "image/png"


def test_sidecar_text_file_is_not_a_frame(host, tmp_path):
    path = tmp_path / "frame.txt"
    path.write_text("[SemImageFile]\r\nPixelSize=2.5\r\n")
    with pytest.raises(ReaderError) as info:
        host.read(path)
    assert info.value.code == "unsupported"


def test_corrupt_pixel_data_in_a_vendor_file_is_a_reader_error(host, tmp_path):
    path = tmp_path / "broken.tif"
    tifffile.imwrite(path, sem_image(64, 64), compression="zlib",
                     extratags=[(34682, "s", 0, "[Beam]\r\nHV=5000\r\n", True)])
    data = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        offset = tif.pages[0].dataoffsets[0]
    data[offset:offset + 40] = b"\xff" * 40
    path.write_bytes(bytes(data))
    with pytest.raises(ReaderError) as info:
        host.read(path)
    assert info.value.code == "corrupt"


def test_corrupt_lzw_data_is_reported_as_corrupt(host, tmp_path):
    path = tmp_path / "lzw.tif"
    Image.fromarray(sem_image(64, 64)).save(path, compression="tiff_lzw")
    data = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[0].dataoffsets[0], tif.pages[0].databytecounts[0]
    data[offset:offset + count] = bytes(range(256)) * (count // 256) + bytes(count % 256)
    path.write_bytes(bytes(data))
    try:
        host.read(path)
    except ReaderError as exc:
        assert exc.code == "corrupt"


def test_too_many_pixels_across_pages_are_refused(host, tmp_path, monkeypatch):
    import nanoaid_daemon.readkit.tiff as tiffkit

    monkeypatch.setattr(tiffkit, "MAX_PIXELS", 3 * 64 * 64)
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((5, 64, 64), np.uint8), photometric="minisblack")
    with pytest.raises(ReaderError) as info:
        host.read(tmp_path / "stack.tif")
    assert info.value.code == "too_large"
