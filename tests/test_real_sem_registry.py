"""The real-SEM registry: every file listed with its sha256; skipped on a laptop, required in CI."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import realsem

# One real test that reads a registered file, run in a child pytest with a chosen environment.
PROBE = "tests/readers/test_zeiss_reader.py::test_palette_zeiss_pixels_are_grey_values"


def _child_pytest(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in (realsem.FOLDER_ENV, realsem.REQUIRE_ENV)}
    return subprocess.run([sys.executable, "-m", "pytest", PROBE, "-q", "-rs", "-p", "no:cacheprovider"],
                          cwd=realsem.REPO, env={**clean, **env}, capture_output=True, text=True, timeout=300)


def test_registry_lists_every_real_file_in_the_folder(real_sem: Path):
    on_disk = {str(p.relative_to(real_sem)) for p in real_sem.rglob("*") if p.is_file()}
    documentation = {"EXPECTED.md", "SHA256SUMS"}
    assert set(realsem.read_registry()) == on_disk - documentation


def test_registered_digests_agree_with_the_folders_own_checksums(real_sem: Path):
    published = dict(reversed(line.split(None, 1)) for line in (real_sem / "SHA256SUMS").read_text().splitlines())
    assert realsem.read_registry() == {name.strip(): digest for name, digest in published.items()}


def test_an_altered_file_is_reported_by_name(real_sem: Path, tmp_path: Path):
    copy = tmp_path / "real-sem"
    shutil.copytree(real_sem, copy)
    target = copy / "nexuslims" / "quanta_image.tif"
    target.write_bytes(target.read_bytes()[:-1] + b"\x00")
    found = realsem.check(copy, realsem.read_registry())
    assert found.altered == ("nexuslims/quanta_image.tif",) and not found.missing
    assert "nexuslims/quanta_image.tif" in found.explain()


def test_the_folder_setting_is_read_relative_to_the_repository():
    assert realsem.folder({}) == realsem.DEFAULT_FOLDER
    assert realsem.folder({realsem.FOLDER_ENV: "data/sem"}) == realsem.REPO / "data" / "sem"
    assert realsem.required({realsem.REQUIRE_ENV: "1"}) and not realsem.required({realsem.REQUIRE_ENV: "0"})


def test_a_malformed_registry_line_names_the_file_and_line(tmp_path: Path):
    registry = tmp_path / "registry.txt"
    registry.write_text("# comment\na/b.tif deadbeef\n")
    with pytest.raises(ValueError, match=r"registry.txt:2: expected"):
        realsem.read_registry(registry)


def test_missing_data_skips_with_a_reason_on_a_developer_machine(tmp_path: Path):
    done = _child_pytest(**{realsem.FOLDER_ENV: str(tmp_path / "absent")})
    assert done.returncode == 0, done.stdout[-2000:]
    assert "1 skipped" in done.stdout and "real-SEM files not found" in done.stdout
    assert realsem.FOLDER_ENV in done.stdout


def test_missing_data_fails_when_ci_requires_it(tmp_path: Path):
    done = _child_pytest(**{realsem.FOLDER_ENV: str(tmp_path / "absent"), realsem.REQUIRE_ENV: "1"})
    assert done.returncode != 0
    assert "1 error" in done.stdout and "real-SEM files not found" in done.stdout
