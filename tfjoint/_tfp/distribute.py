"""TensorFlow internals of `tf.distribute` across worker processes: a strategy's collective timeout.

Written against TF 2.21. `tests/test_tfp.py`-style canaries live in
`tests/test_multiworker.py` (they need a `MultiWorkerMirroredStrategy`).
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = ["collective_timeout"]


def collective_timeout(strategy: Any) -> Optional[float]:
    """The `timeout_seconds` of the `CommunicationOptions` a strategy was made with, or `None` if unset.

    TF 2.21 keeps a `MultiWorkerMirroredStrategy`'s (and a
    `MirroredStrategy`'s collective ops') constructor options in
    `strategy.extended._communication_options` (a
    `tf.distribute.experimental.CommunicationOptions`); there is no public
    getter. A strategy without them (or a future TF that moves them) gives
    `None`.
    """
    options = getattr(strategy.extended, "_communication_options", None)
    timeout = getattr(options, "timeout_seconds", None)
    return float(timeout) if timeout else None
