"""Stack frames: which are the user's, for warnings that point at the user's line."""

from __future__ import annotations

import os
import sys
from types import FrameType
from typing import Optional

__all__ = ["is_internal", "user_stacklevel"]

_TF_PATHS = ("/tensorflow/", "/tensorflow_probability/", "/tf_keras/", "/keras/", "__autograph_generated")
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def is_internal(filename: str) -> bool:
    """Whether a frame's file is TensorFlow's, AutoGraph's or tfjoint's own.

    Examples:
      >>> is_internal("/site-packages/tensorflow/python/ops/math_ops.py"), is_internal("/home/me/model.py")
      (True, False)
    """
    return filename.startswith(_PACKAGE_DIR) or any(p in filename for p in _TF_PATHS)


def user_stacklevel() -> int:
    """Return the `stacklevel` for `warnings.warn` that points at the user's line.

    Skips tfjoint's own frames, TensorFlow's and AutoGraph's generated code, so
    a warning raised while tracing names the line that called tfjoint.
    """
    frame: Optional[FrameType] = sys._getframe(1)  # pylint: disable=protected-access
    level = 1
    while frame is not None:
        if not is_internal(frame.f_code.co_filename):
            return level
        frame, level = frame.f_back, level + 1
    return 2
