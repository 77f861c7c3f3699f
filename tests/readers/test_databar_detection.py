"""Databar detection on a generated set of 92 frames with strips of 10–120 rows (``databar_frames``)."""
from __future__ import annotations

import numpy as np
import pytest
from databar_frames import LOOKS, frames, tall_bar, texture

from nanoaid_daemon.readkit import detect_databar

SET = list(frames())


def test_detection_is_exact_on_nearly_every_generated_strip():
    exact = sum(detect_databar(f.pixels) == f.bar_rows for f in SET)
    assert len(SET) == 92 and {f.look for f in SET} == set(LOOKS)
    assert exact / len(SET) >= 0.95, f"{exact} of {len(SET)} exact"


def test_detection_never_reaches_into_the_image():
    assert all(detect_databar(f.pixels) <= f.bar_rows for f in SET)


@pytest.mark.parametrize("rows", [55, 90, 120])
def test_tall_strip_with_antialiased_text_and_a_logo_is_found_whole(rows):
    """The regression: a 55-row strip was found as 12, so alignment measured its text."""
    rng = np.random.default_rng(rows)
    image = texture(384, 512, rng, dark=True)
    image[-rows:] = tall_bar(rows, 512, rng)
    assert detect_databar(image) == rows


@pytest.mark.parametrize("dark", [True, False])
def test_frames_without_a_strip_keep_every_row(dark):
    rng = np.random.default_rng(7)
    assert all(detect_databar(texture(384, 512, rng, dark=dark)) == 0 for _ in range(10))


def test_a_vendor_height_confirmed_by_the_pixels_wins_and_one_they_contradict_does_not():
    rng = np.random.default_rng(1)
    image = texture(384, 512, rng, dark=False)
    image[-60:] = tall_bar(60, 512, rng)
    assert detect_databar(image, declared=62) == 62  # within CONFIRM_ROWS: the vendor's exact figure
    assert detect_databar(image, declared=12) == 60  # contradicted: the pixels
    assert detect_databar(texture(384, 512, rng, dark=False), declared=60) == 0  # nothing there: nothing cut
