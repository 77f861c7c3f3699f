"""Synthetic SEM frames for demos, tests and training (numpy + Pillow only).

    from nanoaid_daemon.synth import render, write_frame
    frame = render("Nanowires", seed=3, arrangement="aligned", orientation_deg=30)
    write_frame(frame, "wires.tif", vendor="fei")

``frame.truth`` carries what was drawn (for nanowires the orientation distribution), ``frame.meta``
the instrument settings the vendor header reports.
"""
from __future__ import annotations

from ..sidecar import CLASSES
from .output import VENDORS, encode_frame, write_dataset, write_frame
from .render import OVERRIDES, SynthFrame, render

__all__ = ["render", "write_frame", "encode_frame", "write_dataset", "SynthFrame", "CLASSES", "OVERRIDES", "VENDORS"]
