"""Feeding a classifier's optional field-width input (see ``training/scale.py``): which models take
it, and the [N, 1] column of widths they get (NaN where a view's width is unknown)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .modelcard import ModelCard

__all__ = ["scale_input_name", "widths_column"]


def scale_input_name(card: ModelCard, session: Any) -> str | None:
    """The scale input's name if the card declares one and the session takes it (as an input, or as
    an initializer a caller may override), else None: such a model then runs scale-free."""
    if card.scale_input is None:
        return None
    names = {i.name for i in session.get_inputs()}
    try:
        names |= {i.name for i in session.get_overridable_initializers()}
    except AttributeError:  # pragma: no cover - every supported onnxruntime has it
        pass
    return card.scale_input.name if card.scale_input.name in names else None


def widths_column(values: Sequence[float | None] | np.ndarray | None, rows: int, model: str) -> np.ndarray:
    """[rows, 1] float32 field widths, NaN where unknown (None, NaN, or not positive)."""
    if values is None:
        return np.full((rows, 1), np.nan, np.float32)
    out = np.array([np.nan if v is None else float(v) for v in np.asarray(values, dtype=object).reshape(-1)],
                   np.float32)
    if len(out) != rows:
        raise ValueError(f"model {model}: {len(out)} field widths for a batch of {rows} views")
    out[~(out > 0)] = np.nan
    return out.reshape(rows, 1)
