"""Training and export of the shipped models (needs the ``[train]`` extra: CPU torch, onnx, onnxscript
and the EfficientNet-Lite0 ImageNet weights).

torch is imported only inside this package, so the daemon itself never needs it; the command
line imports these modules only when a ``train`` command runs. See docs/models.md.
"""
from __future__ import annotations

from ..errors import ConfigError

__all__ = ["CLASSIFIER_VERSION", "AUTOENCODER_VERSION", "require_torch"]

#: Versions the shipped models' cards carry; bump with any change to what a rebuild writes.
CLASSIFIER_VERSION = "1.2.0"  # 1.2: the dev set's committed real frames in the final head
AUTOENCODER_VERSION = "1.0.1"  # 1.0.1: retrained on the current synthetic generator


def require_torch() -> None:
    """Fail with a readable message when the training extra is not installed."""
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"training needs the [train] extra ({exc.name} is missing): "
                          "pip install -e '.[train]' torch==2.13.0 (CPU build)") from exc
