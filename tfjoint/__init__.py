"""tfjoint: shapes, batching and compiled inference for TFP joint distributions.

The front door. Every public name is listed here and in `__all__`; each is
imported from its private module on first use, so `import tfjoint` (and the
command line's usage errors) stay fast, and TensorFlow loads only when needed.

Examples:
  >>> import tfjoint
  >>> import tensorflow as tf, tensorflow_probability as tfp
  >>> tfd = tfp.distributions
  >>> X = tf.range(7.)
  >>> jd = tfd.JointDistributionSequentialAutoBatched([
  ...     tfd.Normal(0., 1.), tfd.Normal(0., 1.),
  ...     lambda b, m: tfd.Normal(m * X + b, 1., name="Y")])
  >>> tfjoint.check(jd, sample_shape=(5, 3), seed=0).ok
  True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tfjoint._compile import cache as _cache

__version__ = "0.1.0"

# XLA programs compiled by this process are kept for later ones (TFJOINT_CACHE_DIR; "" turns it off).
_cache.enable()

# public name -> private module that defines it
_EXPORTS = {
    # shapes of joint models
    "check": "tfjoint._shapes.check",
    "ShapeReport": "tfjoint._shapes.report",
    "Finding": "tfjoint._shapes.report",
    "debug": "tfjoint._shapes.debug",
    "PointReport": "tfjoint._shapes.debug",
    # writing and reading models
    "model": "tfjoint._model.builders",
    "condition": "tfjoint._model.observed",
    "normalize": "tfjoint._model.spec",
    # batching variants
    "variants": "tfjoint._batching.variants",
    "compare_variants": "tfjoint._shapes.compare",
    "VariantComparison": "tfjoint._shapes.compare",
    "sample": "tfjoint._batching.autobatch",
    "log_prob": "tfjoint._batching.autobatch",
    # bijectors and graphs
    "trace_bijector": "tfjoint._shapes.bijectors",
    "BijectorTrace": "tfjoint._shapes.bijectors",
    "trace_joint_bijector": "tfjoint._shapes.joint_bijectors",
    "graph": "tfjoint._shapes.graph",
    # lifting and compiling
    "vectorize": "tfjoint._batching.vectorize",
    "check_batched": "tfjoint._batching.vectorize",
    "jit": "tfjoint._compile.jit",
    "xla_consistency": "tfjoint._compile.xla_consistency",
    # errors
    "TfjointError": "tfjoint.errors",
    "ShapeError": "tfjoint.errors",
}
_SUBPACKAGES = ("errors", "infer", "models", "testing")

__all__ = sorted(_EXPORTS) + list(_SUBPACKAGES)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"tfjoint.{name}")
    else:
        raise AttributeError(f"module 'tfjoint' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, eagerly
    from tfjoint import errors, infer, models, testing  # noqa: F401
    from tfjoint._batching.autobatch import log_prob, sample  # noqa: F401
    from tfjoint._batching.variants import variants  # noqa: F401
    from tfjoint._batching.vectorize import check_batched, vectorize  # noqa: F401
    from tfjoint._compile.jit import jit  # noqa: F401
    from tfjoint._compile.xla_consistency import xla_consistency  # noqa: F401
    from tfjoint._model.builders import model  # noqa: F401
    from tfjoint._model.observed import condition  # noqa: F401
    from tfjoint._model.spec import normalize  # noqa: F401
    from tfjoint._shapes.bijectors import BijectorTrace, trace_bijector  # noqa: F401
    from tfjoint._shapes.check import check  # noqa: F401
    from tfjoint._shapes.compare import VariantComparison, compare_variants  # noqa: F401
    from tfjoint._shapes.debug import PointReport, debug  # noqa: F401
    from tfjoint._shapes.graph import graph  # noqa: F401
    from tfjoint._shapes.joint_bijectors import trace_joint_bijector  # noqa: F401
    from tfjoint._shapes.report import Finding, ShapeReport  # noqa: F401
    from tfjoint.errors import ShapeError, TfjointError  # noqa: F401
