"""Bijector internals: the classes a `tfb.Chain` can be (TFP 0.25)."""

from __future__ import annotations

from typing import Any

import tensorflow_probability as tfp
from tensorflow_probability.python.bijectors import chain as _chain_lib

tfb = tfp.bijectors

__all__ = ["is_chain"]

# TFP 0.25: `tfb.Chain(...)` of non-composite bijectors is a `_Chain`, not a `tfb.Chain`.
_CHAIN_TYPES = (tfb.Chain, _chain_lib._Chain)  # pylint: disable=protected-access


def is_chain(bijector: Any) -> bool:
    """Whether `bijector` is a `tfb.Chain` (either of TFP's two chain classes), not a subclass."""
    return type(bijector) in _CHAIN_TYPES
