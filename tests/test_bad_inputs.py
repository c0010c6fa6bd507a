"""A catalogue of bad inputs for every public entry point: each gets tfjoint's own error, naming what is wrong.

Every case calls one public entry point (a name in `tfjoint.__all__`,
`tfjoint.infer.__all__`, a `tfjoint.models` builder, a method users call, or a
command of `python -m tfjoint`) with one bad argument and otherwise cheap,
valid ones, and asserts the error type (a `TfjointError` subclass;
`ArgumentError` for an invalid argument) and that the message names the
argument or node. Valid but unusual inputs (NumPy scalars, tuples for lists)
are accepted.

The samplers and optimizers never compile here: the `stop_at_compile` fixture
makes the step that would compile raise `ReachedCompile`, so a bad argument
that is not refused before compiling fails its case at once (as a
`ReachedCompile`, not a tfjoint error), and an unusual valid one is accepted
when it gets that far.

A bad command line must exit 2 with a message naming the flag or target on
stderr, and no Python traceback; the ones that load TensorFlow take ~15 s
each and are marked `slow`.

A user's own exception inside a lifted or compiled function is not a bad
input: it passes through unchanged, with a note naming the entry point
(`test_user_error__*`).

Cases that fail today are marked `xfail(strict=True)`, with the reason
`issue 20: tfjoint/<file>:<function> <what is wrong>`. `outcomes()` runs the
whole catalogue and classifies each case; `python tests/test_bad_inputs.py
[--cli]` prints the cases that do not get tfjoint's error and the shares.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
import warnings
from typing import Any, Callable, List, NamedTuple, Optional

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfjoint
from tfjoint import infer, models
from tfjoint._base import errors as _errors
from tfjoint.infer.results import posterior as _posterior

tfd, tfb = tfp.distributions, tfp.bijectors
ArgumentError, ObservedError, ShapeError = _errors.ArgumentError, _errors.ObservedError, _errors.ShapeError
ModelInputError, NodeError = _errors.ModelInputError, _errors.NodeError
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- the cases ------------------------------------------------------------------------------


class ReachedCompile(Exception):
    """Raised where a sampler or optimizer would start compiling: every argument was accepted."""


class Case(NamedTuple):
    id: str
    call: Callable[[], Any]
    error: type
    match: str
    xfail: Optional[str] = None


def bad(id: str, call: Callable[[], Any], match: str, error: type = ArgumentError, xfail: Optional[str] = None) -> Case:
    """A bad input: `call()` must raise `error` with a message matching `match`."""
    return Case(id, call, error, match, xfail)


def model():
    """mu ~ N(0, 1), y ~ N(mu, 1): the smallest model with a free and an observed node."""
    return dict(mu=tfd.Normal(0.0, 1.0), y=lambda mu: tfd.Normal(mu, 1.0))


def classifier():
    """b ~ N(0, 1), y ~ Bernoulli(logits=b)."""
    return dict(b=tfd.Normal(0.0, 1.0), y=lambda b: tfd.Bernoulli(logits=b))


def posterior(draws=None, observed=None):
    return _posterior.Posterior(
        draws=draws if draws is not None else {"mu": np.zeros((2, 8), np.float32)}, sample_stats={},
        observed=observed if observed is not None else {"y": np.float32(1.0)}, method="nuts", seed=(0, 0),
        settings={}, timings={},
    )


def target():
    return infer.make_target(model(), {"y": 1.0})


def draws(shape=(2, 20)):
    return np.random.default_rng(0).normal(size=shape)


def _square(x):
    return x * x


def raises_zero_division(*args, **kwargs):
    return 1 / 0


def _xf(where: str, what: str) -> str:
    """An xfail reason: `issue 20: tfjoint/<file>:<function> <what is wrong>`."""
    where = where if where.startswith("tfjoint/") else "tfjoint/" + where
    return f"issue 20: {where} {what}"


def _nuts(**kwargs):
    base = dict(num_chains=1, num_warmup=0, num_results=2, seed=0, jit_compile=False, progress=False)
    base.update(kwargs)
    return infer.nuts(base.pop("model", model()), base.pop("observed", {"y": 1.0}), **base)


def _hmc(**kwargs):
    base = dict(num_chains=1, num_warmup=0, num_results=2, seed=0, jit_compile=False, progress=False)
    base.update(kwargs)
    return infer.hmc(base.pop("model", model()), base.pop("observed", {"y": 1.0}), **base)


def _vi(**kwargs):
    base = dict(num_steps=2, num_draws=2, seed=0, jit_compile=False)
    base.update(kwargs)
    return infer.vi(base.pop("model", model()), base.pop("observed", {"y": 1.0}), **base)


def _map(**kwargs):
    base = dict(num_starts=1, seed=0, jit_compile=False)
    base.update(kwargs)
    return infer.map_estimate(base.pop("model", model()), base.pop("observed", {"y": 1.0}), **base)


def _minimize(**kwargs):
    base = dict(value_fn=lambda x: tf.reduce_sum(x**2, -1), initial_positions=tf.ones([1, 2]), jit_compile=False,
                max_iterations=3)
    base.update(kwargs)
    return infer.minimize(base.pop("value_fn"), base.pop("initial_positions"), **base)


def _compare(**kwargs):
    base = dict(sample_shape=(2,), modes=(), repeats=1)
    base.update(kwargs)
    return tfjoint.compare_variants(base.pop("model", model()), **base)


def _strategy():
    return tf.distribute.OneDeviceStrategy("/cpu:0")


def _not_a_file_dir(tmp="/tmp"):
    path = os.path.join(tmp, "tfjoint_bad_inputs_a_file")
    with open(path, "w") as f:
        f.write("not a directory")
    return path


NOT_WRITABLE = "/proc/tfjoint_cannot_write_here"
NUTS = "tfjoint/infer/_nuts.py:nuts"
VI = "tfjoint/infer/_vi.py:vi"
MAP = "tfjoint/infer/_map.py:map_estimate"
MINIMIZE = "tfjoint/infer/_map.py:minimize"

CASES: List[Case] = [
    # ---- tfjoint.check
    bad("check/model=None", lambda: tfjoint.check(None), "model", ModelInputError),
    bad("check/model=int", lambda: tfjoint.check(3), "model", ModelInputError),
    bad("check/model=[]", lambda: tfjoint.check([]), "model", ModelInputError),
    bad("check/sample_shape=str", lambda: tfjoint.check(model(), "5,3"), "sample_shape"),
    bad("check/sample_shape=-1", lambda: tfjoint.check(model(), -1), "sample_shape"),
    bad("check/sample_shape=float", lambda: tfjoint.check(model(), (2.5,)), "sample_shape"),
    bad("check/seed=str", lambda: tfjoint.check(model(), seed="s"), "seed"),
    bad("check/seed=None", lambda: tfjoint.check(model(), seed=None), "seed"),
    bad("check/seed=3 ints", lambda: tfjoint.check(model(), seed=[1, 2, 3]), "seed"),
    bad("check/batch_shape=str", lambda: tfjoint.check(model(), batch_shape="x"), "batch_shape"),
    bad("check/verify_fixes=str", lambda: tfjoint.check(model(), verify_fixes="yes"), "verify_fixes"),
    # ---- tfjoint.debug
    bad("debug/model=None", lambda: tfjoint.debug(None), "model", ModelInputError),
    bad("debug/seed=str", lambda: tfjoint.debug(model(), seed="s"), "seed"),
    bad("debug/value unknown node", lambda: tfjoint.debug(model(), {"zz": 1.0}), "zz"),
    bad("debug/value=str", lambda: tfjoint.debug(model(), "abc"), "value"),
    bad("debug/value wrong dtype", lambda: tfjoint.debug(model(), {"mu": "abc", "y": 1.0}), "Node: 'mu'", NodeError),
    # A model whose factory raises is not a bad input to debug: its report names the node (tests/test_debug.py).
    # ---- tfjoint.model
    bad("model/fn=int", lambda: tfjoint.model(3), "generator", ModelInputError),
    bad("model/fn not a generator", lambda: tfjoint.model(lambda x: x), "generator", ModelInputError),
    bad("model/batch_ndims=-1", lambda: tfjoint.model(batch_ndims=-1), "batch_ndims"),
    bad("model/batch_ndims=float", lambda: tfjoint.model(batch_ndims=1.5), "batch_ndims"),
    bad("model/batch_ndims=True", lambda: tfjoint.model(batch_ndims=True), "batch_ndims"),
    bad("model/autobatched=str", lambda: tfjoint.model(autobatched="no"), "autobatched"),
    bad("model/builder called with a wrong argument", lambda: _builder()(1.0, 2.0, 3.0), "regression"),
    bad("model/builder node without a name", lambda: _unnamed_builder()(1.0), "#0", NodeError),
    bad("model/builder raises", lambda: _raising_builder()(1.0), "#1", NodeError),
    # ---- builder.condition (tfjoint._model.builders.ModelBuilder.condition)
    bad("builder.condition/observed=array", lambda: _builder().condition(tf.ones([3]), observed=np.ones(3)), "observed"),
    bad("builder.condition/observed=list", lambda: _builder().condition(tf.ones([3]), observed=[1.0, 2.0, 3.0]), "observed"),
    bad("builder.condition/observed=None", lambda: _builder().condition(tf.ones([3]), observed=None), "observed"),
    bad("builder.condition/unknown node", lambda: _builder().condition(tf.ones([3]), observed={"zz": 1.0}), "zz", ObservedError),
    bad("builder.condition/wrong shape", lambda: _builder().condition(tf.ones([3]), observed={"y": np.ones(4)}), "y", ObservedError),
    bad("builder.condition/wrong dtype", lambda: _builder().condition(tf.ones([3]), observed={"y": np.array(["a"] * 3)}), "y", ObservedError),
    # ---- tfjoint.condition
    bad("condition/observed=array", lambda: tfjoint.condition(model(), np.ones(1)), "observed"),
    bad("condition/observed=list", lambda: tfjoint.condition(model(), [1.0]), "observed"),
    bad("condition/observed=str", lambda: tfjoint.condition(model(), "y"), "observed"),
    bad("condition/unknown node", lambda: tfjoint.condition(model(), {"zz": 1.0}), "zz", ObservedError),
    bad("condition/wrong shape", lambda: tfjoint.condition(model(), {"y": np.ones(3)}), "y", ObservedError),
    bad("condition/wrong dtype", lambda: tfjoint.condition(model(), {"y": "abc"}), "y", ObservedError),
    bad("condition/NaN data", lambda: tfjoint.condition(model(), {"y": np.nan}), "y", ObservedError),
    bad("condition/Bernoulli label 2", lambda: tfjoint.condition(classifier(), {"y": 2}), "y", ObservedError),
    bad("condition/model=None", lambda: tfjoint.condition(None, {"y": 1.0}), "model", ModelInputError),
    # ---- tfjoint.normalize
    bad("normalize/model=None", lambda: tfjoint.normalize(None), "model", ModelInputError),
    bad("normalize/model=str", lambda: tfjoint.normalize("jd"), "model", ModelInputError),
    bad("normalize/model={}", lambda: tfjoint.normalize({}), "model", ModelInputError),
    bad("normalize/model=array", lambda: tfjoint.normalize(np.ones(3)), "model", ModelInputError),
    bad("normalize/seed=str", lambda: tfjoint.normalize(model(), seed="s"), "seed"),
    bad("normalize/factory raises", lambda: tfjoint.normalize(dict(mu=tfd.Normal(0.0, 1.0), y=lambda mu: raises_zero_division())), "y", NodeError),
    bad("normalize/unknown parent", lambda: tfjoint.normalize(dict(mu=tfd.Normal(0.0, 1.0), y=lambda nu: tfd.Normal(nu, 1.0))), "nu", _errors.UnknownParentError),
    # ---- tfjoint.variants
    bad("variants/model=None", lambda: tfjoint.variants(None), "model", ModelInputError),
    bad("variants/model=[]", lambda: tfjoint.variants([]), "model", ModelInputError),
    bad("variants/extra=array", lambda: tfjoint.variants(model(), extra=np.ones(2)), "extra"),
    bad("variants/extra value not a model", lambda: tfjoint.variants(model(), extra={"hand": 3}), "hand", ModelInputError),
    bad("variants/seed=str", lambda: tfjoint.variants(model(), seed="s"), "seed"),
    # ---- tfjoint.compare_variants
    bad("compare_variants/repeats=0", lambda: _compare(repeats=0, modes=("eager",)), "repeats"),
    bad("compare_variants/repeats=-1", lambda: _compare(repeats=-1, modes=("eager",)), "repeats"),
    bad("compare_variants/repeats=float", lambda: _compare(repeats=1.5, modes=("eager",)), "repeats"),
    bad("compare_variants/atol=-1", lambda: _compare(atol=-1.0), "atol"),
    bad("compare_variants/atol=nan", lambda: _compare(atol=float("nan")), "atol"),
    bad("compare_variants/modes unknown", lambda: _compare(modes=("fast",)), "modes"),
    bad("compare_variants/modes=dict", lambda: _compare(modes={"xla": 1}), "modes"),
    bad("compare_variants/sample_shape=str", lambda: _compare(sample_shape="x"), "sample_shape"),
    bad("compare_variants/seed=str", lambda: _compare(seed="s"), "seed"),
    bad("compare_variants/model=None", lambda: _compare(model=None), "model", ModelInputError),
    # ---- tfjoint.sample
    bad("sample/seed missing", lambda: tfjoint.sample(model(), seed=None), "seed"),
    bad("sample/seed=str", lambda: tfjoint.sample(model(), seed="s"), "seed"),
    bad("sample/sample_shape=str", lambda: tfjoint.sample(model(), "x", seed=0), "sample_shape"),
    bad("sample/sample_shape=-2", lambda: tfjoint.sample(model(), -2, seed=0), "sample_shape"),
    bad("sample/on_fallback unknown", lambda: tfjoint.sample(model(), seed=0, on_fallback="loud"), "on_fallback"),
    bad("sample/model=None", lambda: tfjoint.sample(None, seed=0), "model", ModelInputError),
    # ---- tfjoint.log_prob
    bad("log_prob/value=None", lambda: tfjoint.log_prob(model(), None), "value"),
    bad("log_prob/value unknown node", lambda: tfjoint.log_prob(model(), {"mu": 0.0, "zz": 1.0}), "zz"),
    bad("log_prob/value missing node", lambda: tfjoint.log_prob(model(), {"mu": 0.0}), "y"),
    bad("log_prob/value=str", lambda: tfjoint.log_prob(model(), {"mu": "a", "y": 1.0}), "mu"),
    bad("log_prob/on_fallback unknown", lambda: tfjoint.log_prob(model(), {"mu": 0.0, "y": 1.0}, on_fallback="x"), "on_fallback"),
    bad("log_prob/model=None", lambda: tfjoint.log_prob(None, {"mu": 0.0}), "model", ModelInputError),
    # ---- tfjoint.trace_bijector
    bad("trace_bijector/base=None", lambda: tfjoint.trace_bijector(None, tfb.Exp()), "base_distribution"),
    bad("trace_bijector/bijector=int", lambda: tfjoint.trace_bijector(tfd.Normal(0.0, 1.0), 3), "bijector"),
    bad("trace_bijector/bijector class", lambda: tfjoint.trace_bijector(tfd.Normal(0.0, 1.0), tfb.Exp), "bijector"),
    bad("trace_bijector/bijector=None, plain base", lambda: tfjoint.trace_bijector(tfd.Normal(0.0, 1.0)), "bijector"),
    bad("trace_bijector/seed=str", lambda: tfjoint.trace_bijector(tfd.Normal(0.0, 1.0), tfb.Exp(), seed="s"), "seed"),
    bad("trace_bijector/seed=None", lambda: tfjoint.trace_bijector(tfd.Normal(0.0, 1.0), tfb.Exp(), seed=None), "seed"),
    bad("trace_bijector/seed=3 ints", lambda: tfjoint.trace_bijector(tfd.Normal(0.0, 1.0), tfb.Exp(), seed=[1, 2, 3]), "seed"),
    bad("trace_bijector/seed=float", lambda: tfjoint.trace_bijector(tfd.Normal(0.0, 1.0), tfb.Exp(), seed=0.5), "seed"),
    bad("trace_bijector/joint base", lambda: tfjoint.trace_bijector(tfd.JointDistributionNamed(model()), tfb.Exp()), "base_distribution"),
    # ---- tfjoint.trace_joint_bijector
    bad("trace_joint_bijector/model=None", lambda: tfjoint.trace_joint_bijector(None), "model", ModelInputError),
    bad("trace_joint_bijector/observed=array", lambda: tfjoint.trace_joint_bijector(model(), np.ones(1)), "observed"),
    bad("trace_joint_bijector/unknown node", lambda: tfjoint.trace_joint_bijector(model(), {"zz": 1.0}), "zz", ObservedError),
    bad("trace_joint_bijector/wrong shape", lambda: tfjoint.trace_joint_bijector(model(), {"y": np.ones(2)}), "y", ObservedError),
    bad("trace_joint_bijector/seed=str", lambda: tfjoint.trace_joint_bijector(model(), seed="s"), "seed"),
    # ---- tfjoint.graph
    bad("graph/model=None", lambda: tfjoint.graph(None), "model", ModelInputError),
    bad("graph/observed=array", lambda: tfjoint.graph(model(), np.ones(1)), "observed"),
    bad("graph/observed unknown name", lambda: tfjoint.graph(model(), ["zz"]), "zz"),
    bad("graph/observed=int", lambda: tfjoint.graph(model(), 3), "observed"),
    bad("graph/seed=str", lambda: tfjoint.graph(model(), seed="s"), "seed"),
    # ---- tfjoint.vectorize
    bad("vectorize/fn=None", lambda: tfjoint.vectorize(None), "fn"),
    bad("vectorize/fn=int", lambda: tfjoint.vectorize(3), "fn"),
    bad("vectorize/fallback unknown", lambda: tfjoint.vectorize(tf.math.sin, fallback="loud"), "fallback"),
    bad("vectorize/in_axes=str", lambda: tfjoint.vectorize(tf.math.sin, in_axes="0"), "in_axes"),
    bad("vectorize/in_axes=float", lambda: tfjoint.vectorize(tf.math.sin, in_axes=0.5), "in_axes"),
    bad("vectorize/out_axes=str", lambda: tfjoint.vectorize(tf.math.sin, out_axes="0"), "out_axes"),
    bad("vectorize/in_axes out of range", lambda: tfjoint.vectorize(tf.math.sin, in_axes=3)(tf.ones([2, 3])), "axis", ShapeError),
    bad("vectorize/unequal batch sizes", lambda: tfjoint.vectorize(tf.add)(tf.ones([2]), tf.ones([3])), "in_axes", ShapeError),
    bad("vectorize/in_axes huge", lambda: tfjoint.vectorize(tf.math.sin, in_axes=10**9)(tf.ones([2, 3])), "axis", ShapeError),
    bad("vectorize/in_axes=True", lambda: tfjoint.vectorize(tf.math.sin, in_axes=True), "in_axes"),
    bad("vectorize/call missing an argument", lambda: tfjoint.vectorize(tf.add)(tf.ones([2])), "arguments of add"),
    bad("vectorize/scalar argument", lambda: tfjoint.vectorize(tf.math.sin)(tf.constant(1.0)), "argument 'x'", ShapeError),
    # ---- tfjoint.check_batched
    bad("check_batched/fn=None", lambda: tfjoint.check_batched(None, (tf.ones([2]),)), "fn"),
    bad("check_batched/fn=int", lambda: tfjoint.check_batched(3, (tf.ones([2]),)), "fn"),
    bad("check_batched/batch_shape=-1", lambda: tfjoint.check_batched(tf.math.sin, (tf.ones([2]),), batch_shape=-1), "batch_shape"),
    bad("check_batched/batch_shape=str", lambda: tfjoint.check_batched(tf.math.sin, (tf.ones([2]),), batch_shape="3"), "batch_shape"),
    bad("check_batched/in_axes=2", lambda: tfjoint.check_batched(tf.math.sin, (tf.ones([2]),), in_axes=2), "in_axes"),
    bad("check_batched/example_args=None", lambda: tfjoint.check_batched(tf.math.sin, None), "example_args"),
    bad("check_batched/too many example args", lambda: tfjoint.check_batched(_square, (tf.ones([2]), tf.ones([2]))), "arguments of _square"),
    bad("check_batched/example_args=()", lambda: tfjoint.check_batched(tf.math.sin, ()), "example_args"),
    # ---- tfjoint.jit
    bad("jit/fn=int", lambda: tfjoint.jit(3), "fn"),
    bad("jit/fn=str", lambda: tfjoint.jit("f"), "fn"),
    bad("jit/relax unknown", lambda: tfjoint.jit(tf.math.sin, relax="all"), "relax"),
    bad("jit/on_retrace unknown", lambda: tfjoint.jit(tf.math.sin, on_retrace="x"), "on_retrace"),
    bad("jit/fallback unknown", lambda: tfjoint.jit(tf.math.sin, fallback="numpy"), "fallback"),
    bad("jit/autograph=str", lambda: tfjoint.jit(tf.math.sin, autograph="no"), "autograph"),
    bad("jit/fn=None as decorator", lambda: tfjoint.jit()(None), "fn"),
    bad("jit/call with an extra argument", lambda: tfjoint.jit(_square)(tf.ones([2]), tf.ones([2])), "arguments of _square"),
    bad("jit/input_signature=int", lambda: tfjoint.jit(tf.math.sin, input_signature=3), "input_signature"),
    # ---- tfjoint.xla_consistency
    bad("xla_consistency/fn=None", lambda: tfjoint.xla_consistency(None, tf.ones([2])), "fn"),
    bad("xla_consistency/rtol=-1", lambda: tfjoint.xla_consistency(tf.math.sin, tf.ones([2]), rtol=-1.0), "rtol"),
    bad("xla_consistency/atol=-1", lambda: tfjoint.xla_consistency(tf.math.sin, tf.ones([2]), atol=-1.0), "atol"),
    bad("xla_consistency/atol=nan", lambda: tfjoint.xla_consistency(tf.math.sin, tf.ones([2]), atol=float("nan")), "atol"),
    bad("xla_consistency/rtol=str", lambda: tfjoint.xla_consistency(tf.math.sin, tf.ones([2]), rtol="1e-5"), "rtol"),
    bad("xla_consistency/fn=str", lambda: tfjoint.xla_consistency("sin", tf.ones([2])), "fn"),
    bad("xla_consistency/atol=True", lambda: tfjoint.xla_consistency(tf.math.sin, tf.ones([2]), atol=True), "atol"),
    bad("xla_consistency/missing argument", lambda: tfjoint.xla_consistency(_square), "arguments of _square"),
    bad("xla_consistency/rtol=inf", lambda: tfjoint.xla_consistency(tf.math.sin, tf.ones([2]), rtol=math.inf), "rtol"),
    # ---- infer.nuts
    bad("nuts/observed=array", lambda: _nuts(observed=np.ones(1)), "observed"),
    bad("nuts/num_chains=0", lambda: _nuts(num_chains=0), "num_chains"),
    bad("nuts/num_chains=float", lambda: _nuts(num_chains=2.0), "num_chains"),
    bad("nuts/num_results=-1", lambda: _nuts(num_results=-1), "num_results"),
    bad("nuts/num_warmup=None", lambda: _nuts(num_warmup=None), "num_warmup"),
    bad("nuts/seed=str", lambda: _nuts(seed="s"), "seed"),
    bad("nuts/seed=None", lambda: _nuts(seed=None), "seed"),
    bad("nuts/seed=3 ints", lambda: _nuts(seed=[1, 2, 3]), "seed"),
    bad("nuts/target_accept_prob=1.5", lambda: _nuts(target_accept_prob=1.5), "target_accept_prob"),
    bad("nuts/target_accept_prob=nan", lambda: _nuts(target_accept_prob=float("nan")), "target_accept_prob"),
    bad("nuts/max_tree_depth=40", lambda: _nuts(max_tree_depth=40), "max_tree_depth"),
    bad("nuts/step_size=-1", lambda: _nuts(step_size=-1.0), "step_size"),
    bad("nuts/step_size=inf", lambda: _nuts(step_size=math.inf), "step_size"),
    bad("nuts/chunk_size=0", lambda: _nuts(chunk_size=0), "chunk_size"),
    bad("nuts/jit_compile=str", lambda: _nuts(jit_compile="yes"), "jit_compile"),
    bad("nuts/kernel unknown", lambda: _nuts(kernel="fast"), "kernel"),
    bad("nuts/strategy=str", lambda: _nuts(strategy="mirrored"), "strategy"),
    bad("nuts/shard_data without strategy", lambda: _nuts(shard_data=True), "strategy"),
    bad("nuts/progress=str", lambda: _nuts(progress="no"), "progress"),
    bad("nuts/checkpoint_dir is a file", lambda: _nuts(checkpoint_dir=_not_a_file_dir()), "checkpoint_dir"),
    bad("nuts/checkpoint_dir not writable", lambda: _nuts(checkpoint_dir=NOT_WRITABLE), "checkpoint_dir"),
    bad("nuts/checkpoint_dir=int", lambda: _nuts(checkpoint_dir=3), "checkpoint_dir"),
    bad("nuts/model=None", lambda: _nuts(model=None), "model", ModelInputError),
    bad("nuts/observed unknown node", lambda: _nuts(observed={"zz": 1.0}), "zz", ObservedError),
    bad("nuts/observed wrong shape", lambda: _nuts(observed={"y": np.ones(3)}), "y", ObservedError),
    bad("nuts/discrete free node", lambda: _nuts(model=classifier(), observed={"b": 0.5}), "y", NodeError),
    # ---- infer.hmc
    bad("hmc/num_leapfrog_steps=0", lambda: _hmc(num_leapfrog_steps=0), "num_leapfrog_steps"),
    bad("hmc/num_leapfrog_steps=float", lambda: _hmc(num_leapfrog_steps=4.0), "num_leapfrog_steps"),
    bad("hmc/num_leapfrog_steps huge", lambda: _hmc(num_leapfrog_steps=10**9), "num_leapfrog_steps"),
    bad("hmc/observed=array", lambda: _hmc(observed=np.ones(1)), "observed"),
    bad("hmc/seed=str", lambda: _hmc(seed="s"), "seed"),
    bad("hmc/target_accept_prob=0", lambda: _hmc(target_accept_prob=0.0), "target_accept_prob"),
    bad("hmc/step_size=nan", lambda: _hmc(step_size=float("nan")), "step_size"),
    bad("hmc/num_chains=None", lambda: _hmc(num_chains=None), "num_chains"),
    # ---- infer.vi
    bad("vi/surrogate unknown", lambda: _vi(surrogate="normal"), "surrogate"),
    bad("vi/num_steps=0", lambda: _vi(num_steps=0), "num_steps"),
    bad("vi/learning_rate=-1", lambda: _vi(learning_rate=-1.0), "learning_rate"),
    bad("vi/learning_rate=inf", lambda: _vi(learning_rate=math.inf), "learning_rate"),
    bad("vi/learning_rate_decay=2", lambda: _vi(learning_rate_decay=2.0), "learning_rate_decay"),
    bad("vi/sample_size=0", lambda: _vi(sample_size=0), "sample_size"),
    bad("vi/num_draws=float", lambda: _vi(num_draws=10.0), "num_draws"),
    bad("vi/seed=str", lambda: _vi(seed="s"), "seed"),
    bad("vi/observed=array", lambda: _vi(observed=np.ones(1)), "observed"),
    bad("vi/jit_compile=str", lambda: _vi(jit_compile="no"), "jit_compile"),
    # ---- infer.map_estimate
    bad("map_estimate/num_starts=0", lambda: _map(num_starts=0), "num_starts"),
    bad("map_estimate/method unknown", lambda: _map(method="newton"), "method"),
    bad("map_estimate/tolerance=-1", lambda: _map(tolerance=-1.0), "tolerance"),
    bad("map_estimate/max_iterations=float", lambda: _map(max_iterations=10.0), "max_iterations"),
    bad("map_estimate/seed=str", lambda: _map(seed="s"), "seed"),
    bad("map_estimate/jit_compile unknown", lambda: _map(jit_compile="all"), "jit_compile"),
    bad("map_estimate/observed=array", lambda: _map(observed=np.ones(1)), "observed"),
    bad("map_estimate/jacobian=str", lambda: _map(jacobian="no"), "jacobian"),
    # ---- infer.minimize
    bad("minimize/value_fn=int", lambda: _minimize(value_fn=3), "value_fn"),
    bad("minimize/initial_positions=str", lambda: _minimize(initial_positions="x"), "initial_positions"),
    bad("minimize/initial_positions=None", lambda: _minimize(initial_positions=None), "initial_positions"),
    bad("minimize/method unknown", lambda: _minimize(method="newton"), "method"),
    bad("minimize/tolerance=-1", lambda: _minimize(tolerance=-1.0), "tolerance"),
    bad("minimize/max_iterations=0", lambda: _minimize(max_iterations=0), "max_iterations"),
    bad("minimize/jit_compile unknown", lambda: _minimize(jit_compile="all"), "jit_compile"),
    # ---- infer.predictive
    bad("predictive/num_draws with a posterior", lambda: infer.predictive(model(), posterior(), num_draws=5), "num_draws"),
    bad("predictive/prior num_draws=0", lambda: infer.predictive(model(), None, num_draws=0), "num_draws"),
    bad("predictive/posterior=dict", lambda: infer.predictive(model(), {"mu": np.zeros((2, 8))}), "posterior"),
    bad("predictive/observed_names unknown", lambda: infer.predictive(model(), posterior(), observed_names=["zz"]), "zz"),
    bad("predictive/observed_names has draws", lambda: infer.predictive(model(), posterior(), observed_names=["mu"]), "mu"),
    bad("predictive/observed_names=[]", lambda: infer.predictive(model(), posterior(), observed_names=[]), "observed_names"),
    bad("predictive/observed_names=int", lambda: infer.predictive(model(), posterior(), observed_names=3), "observed_names"),
    bad("predictive/seed=str", lambda: infer.predictive(model(), posterior(), seed="s"), "seed"),
    bad("predictive/model=None", lambda: infer.predictive(None, posterior()), "model", ModelInputError),
    bad("predictive/posterior of another model", lambda: infer.predictive(model(), posterior({"zz": np.zeros((2, 8))})), "zz"),
    # ---- infer.predict_proba
    bad("predict_proba/node unknown", lambda: infer.predict_proba(classifier(), posterior({"b": np.zeros((2, 8))}), node="zz"), "zz"),
    bad("predict_proba/node has draws", lambda: infer.predict_proba(classifier(), posterior({"b": np.zeros((2, 8))}), node="b"), "b"),
    bad("predict_proba/node=int", lambda: infer.predict_proba(classifier(), posterior({"b": np.zeros((2, 8))}), node=3), "node"),
    bad("predict_proba/not a classifier", lambda: infer.predict_proba(model(), posterior()), "y"),
    bad("predict_proba/posterior=None", lambda: infer.predict_proba(classifier(), None), "posterior"),
    bad("predict_proba/posterior=array", lambda: infer.predict_proba(classifier(), np.zeros((2, 8))), "posterior"),
    bad("predict_proba/seed=str", lambda: infer.predict_proba(classifier(), posterior({"b": np.zeros((2, 8))}), seed="s"), "seed"),
    # ---- infer.summarize
    bad("summarize/prob=1.5", lambda: infer.summarize({"mu": draws()}, prob=1.5), "prob"),
    bad("summarize/prob=nan", lambda: infer.summarize({"mu": draws()}, prob=float("nan")), "prob"),
    bad("summarize/prob=np.float32(1.5)", lambda: infer.summarize({"mu": draws()}, prob=np.float32(1.5)), "prob"),
    bad("summarize/prob=inf", lambda: infer.summarize({"mu": draws()}, prob=math.inf), "prob"),
    bad("summarize/draws complex", lambda: infer.summarize({"mu": draws() * 1j}), "mu"),
    bad("summarize/draws=None", lambda: infer.summarize(None), "draws"),
    bad("summarize/prob=str", lambda: infer.summarize({"mu": draws()}, prob="0.9"), "prob"),
    bad("summarize/draws=array", lambda: infer.summarize(draws()), "draws"),
    bad("summarize/draws={}", lambda: infer.summarize({}), "draws"),
    bad("summarize/draws 1-D", lambda: infer.summarize({"mu": np.ones(5)}), "mu", ShapeError),
    bad("summarize/draws of strings", lambda: infer.summarize({"mu": np.array([["a", "b"]])}), "mu"),
    bad("summarize/var_names unknown", lambda: infer.summarize({"mu": draws()}, var_names=["zz"]), "zz"),
    bad("summarize/var_names=[]", lambda: infer.summarize({"mu": draws()}, var_names=[]), "var_names"),
    bad("summarize/sample_stats=array", lambda: infer.summarize({"mu": draws()}, np.zeros((2, 20))), "sample_stats"),
    bad("summarize/diverging wrong shape", lambda: infer.summarize({"mu": draws()}, {"diverging": np.zeros(3, bool)}), "diverging", ShapeError),
    bad("summarize/warn=str", lambda: infer.summarize({"mu": draws()}, warn="no"), "warn"),
    bad("summarize/stacklevel=0", lambda: infer.summarize({"mu": draws()}, stacklevel=0), "stacklevel"),
    # ---- Posterior.summary
    bad("Posterior.summary/prob=1.5", lambda: posterior().summary(prob=1.5), "prob"),
    bad("Posterior.summary/prob=-0.1", lambda: posterior().summary(prob=-0.1), "prob"),
    bad("Posterior.summary/prob=None", lambda: posterior().summary(prob=None), "prob"),
    bad("Posterior.summary/var_names unknown", lambda: posterior().summary(["zz"]), "zz"),
    bad("Posterior.summary/var_names=int", lambda: posterior().summary(3), "var_names"),
    # ---- infer.rhat, ess_*, mcse_mean
    *[
        c
        for name in ("rhat", "ess_bulk", "ess_tail", "ess_mean", "mcse_mean")
        for c in (
            bad(f"{name}/x=None", lambda name=name: getattr(infer, name)(None), "x"),
            bad(f"{name}/x=str", lambda name=name: getattr(infer, name)("abc"), "x"),
            bad(f"{name}/x 1-D", lambda name=name: getattr(infer, name)(np.ones(10)), "x", ShapeError),
            bad(f"{name}/x=dict", lambda name=name: getattr(infer, name)({"mu": draws()}), "x"),
            bad(f"{name}/x=[]", lambda name=name: getattr(infer, name)([]), "x", ShapeError),
            bad(f"{name}/x ragged", lambda name=name: getattr(infer, name)([[1.0, 2.0], [3.0]]), "x"),
            bad(f"{name}/x no draws", lambda name=name: getattr(infer, name)(np.ones((4, 0))), "x", ShapeError),
        )
    ],
    # ---- infer.to_arviz
    bad("to_arviz/posterior=None", lambda: infer.to_arviz(None), "posterior"),
    bad("to_arviz/posterior=dict", lambda: infer.to_arviz({"mu": draws()}), "posterior"),
    bad("to_arviz/posterior_predictive=array", lambda: infer.to_arviz(posterior(), np.zeros((2, 8))), "posterior_predictive"),
    bad("to_arviz/posterior_predictive wrong shape", lambda: infer.to_arviz(posterior(), {"y": np.zeros((3, 8))}), "y", ShapeError),
    bad("to_arviz/posterior=str", lambda: infer.to_arviz("posterior"), "posterior"),
    bad("to_arviz/posterior_predictive 1-D", lambda: infer.to_arviz(posterior(), {"y": np.zeros(8)}), "y", ShapeError),
    # ---- infer.make_target
    bad("make_target/model=None", lambda: infer.make_target(None), "model", ModelInputError),
    bad("make_target/observed=array", lambda: infer.make_target(model(), np.ones(1)), "observed"),
    bad("make_target/observed unknown node", lambda: infer.make_target(model(), {"zz": 1.0}), "zz", ObservedError),
    bad("make_target/observed wrong shape", lambda: infer.make_target(model(), {"y": np.ones(2)}), "y", ObservedError),
    bad("make_target/observed wrong dtype", lambda: infer.make_target(model(), {"y": "a"}), "y", ObservedError),
    bad("make_target/discrete free node", lambda: infer.make_target(classifier()), "y", NodeError),
    # ---- FlatTarget methods
    bad("FlatTarget.log_prob/x wrong size", lambda: target().log_prob(tf.zeros([3])), "x", ShapeError),
    bad("FlatTarget.log_prob/x=str", lambda: target().log_prob("a"), "x"),
    bad("FlatTarget.log_prob/x=None", lambda: target().log_prob(None), "x"),
    bad("FlatTarget.log_prob/x scalar", lambda: target().log_prob(0.0), "x", ShapeError),
    bad("FlatTarget.log_prob/jacobian=str", lambda: target().log_prob(tf.zeros([1]), jacobian="no"), "jacobian"),
    bad("FlatTarget.constrain/x wrong size", lambda: target().constrain(tf.zeros([3])), "x", ShapeError),
    bad("FlatTarget.constrain/x=str", lambda: target().constrain("a"), "x"),
    bad("FlatTarget.constrain/x=None", lambda: target().constrain(None), "x"),
    bad("FlatTarget.constrain/x=dict", lambda: target().constrain({"mu": 0.0}), "x"),
    bad("FlatTarget.constrain/x scalar", lambda: target().constrain(0.0), "x", ShapeError),
    bad("FlatTarget.unconstrain/values=array", lambda: target().unconstrain(np.zeros(1)), "values"),
    bad("FlatTarget.unconstrain/values missing", lambda: target().unconstrain({}), "mu"),
    bad("FlatTarget.unconstrain/values=str", lambda: target().unconstrain({"mu": "a"}), "mu"),
    bad("FlatTarget.unconstrain/values=None", lambda: target().unconstrain(None), "values"),
    bad("FlatTarget.unconstrain/values unknown node", lambda: target().unconstrain({"mu": 0.0, "zz": 1.0}), "zz"),
    bad("FlatTarget.initial_state/num_chains=0", lambda: target().initial_state(0, seed=0), "num_chains"),
    bad("FlatTarget.initial_state/num_chains=float", lambda: target().initial_state(1.5, seed=0), "num_chains"),
    bad("FlatTarget.initial_state/num_chains=None", lambda: target().initial_state(None, seed=0), "num_chains"),
    bad("FlatTarget.initial_state/seed=str", lambda: target().initial_state(2, seed="s"), "seed"),
    bad("FlatTarget.initial_state/seed=None", lambda: target().initial_state(2, seed=None), "seed"),
    # ---- infer.sharded_log_prob
    bad("sharded_log_prob/model=int", lambda: infer.sharded_log_prob(3, {"y": np.ones(4)}, _strategy()), "model"),
    bad("sharded_log_prob/data=array", lambda: infer.sharded_log_prob(models.linear_regression, np.ones(4), _strategy()), "data"),
    bad("sharded_log_prob/data={}", lambda: infer.sharded_log_prob(models.linear_regression, {}, _strategy()), "data"),
    bad("sharded_log_prob/data=None", lambda: infer.sharded_log_prob(models.linear_regression, None, _strategy()), "data"),
    bad("sharded_log_prob/strategy=None", lambda: infer.sharded_log_prob(models.linear_regression, _lr_data(), None), "strategy"),
    bad("sharded_log_prob/strategy=str", lambda: infer.sharded_log_prob(models.linear_regression, _lr_data(), "cpu"), "strategy"),
    bad("sharded_log_prob/axis=-1", lambda: infer.sharded_log_prob(models.linear_regression, _lr_data(), _strategy(), axis=-1), "axis"),
    bad("sharded_log_prob/axis=float", lambda: infer.sharded_log_prob(models.linear_regression, _lr_data(), _strategy(), axis=0.0), "axis"),
    bad("sharded_log_prob/unknown data name", lambda: infer.sharded_log_prob(models.linear_regression, dict(_lr_data(), zz=np.ones(6)), _strategy()), "zz", ObservedError),
    bad("sharded_log_prob/jit_compile=str", lambda: infer.sharded_log_prob(models.linear_regression, _lr_data(), _strategy(), jit_compile="no"), "jit_compile"),
    # ---- infer.shard_chains
    bad("shard_chains/make_kernel=int", lambda: infer.shard_chains(3, _gauss, _strategy(), num_chains=2), "make_kernel"),
    bad("shard_chains/target_log_prob_fn=None", lambda: infer.shard_chains(_hmc_kernel, None, _strategy(), num_chains=2), "target_log_prob_fn"),
    bad("shard_chains/strategy=None", lambda: infer.shard_chains(_hmc_kernel, _gauss, None, num_chains=2), "strategy"),
    bad("shard_chains/strategy=str", lambda: infer.shard_chains(_hmc_kernel, _gauss, "gpu", num_chains=2), "strategy"),
    bad("shard_chains/num_chains=0", lambda: infer.shard_chains(_hmc_kernel, _gauss, _strategy(), num_chains=0), "num_chains"),
    bad("shard_chains/num_chains=float", lambda: infer.shard_chains(_hmc_kernel, _gauss, _strategy(), num_chains=2.0), "num_chains"),
    bad("shard_chains/num_chains=None", lambda: infer.shard_chains(_hmc_kernel, _gauss, _strategy(), num_chains=None), "num_chains"),
    bad("shard_chains/jit_compile=str", lambda: infer.shard_chains(_hmc_kernel, _gauss, _strategy(), num_chains=2, jit_compile="no"), "jit_compile"),
]


def _builder():
    @tfjoint.model
    def regression(features):
        w = yield tfd.Normal(0.0, 1.0, name="w")
        yield tfd.Normal(w * features, 1.0, name="y")

    return regression


def _unnamed_builder():
    @tfjoint.model
    def unnamed(x):
        yield tfd.Normal(x, 1.0)

    return unnamed


def _raising_builder():
    @tfjoint.model
    def raising(x):
        mu = yield tfd.Normal(x, 1.0, name="mu")
        yield tfd.Normal(mu + raises_zero_division(), 1.0, name="y")

    return raising


def _lr_data():
    return {"features": np.ones([6, 2], np.float32), "y": np.arange(6, dtype=np.float32)}


def _gauss(x):
    return -0.5 * tf.reduce_sum(x**2, -1)


def _hmc_kernel(fn):
    return tfp.mcmc.HamiltonianMonteCarlo(fn, 0.5, num_leapfrog_steps=2)


# ---- tfjoint.models builders and their .condition
def _model_cases() -> List[Case]:

    X = np.ones([4, 2], np.float32)
    locations = np.linspace(0.0, 1.0, 4)[:, None]
    grid = models.grid_locations(2)
    counts = np.ones(4, np.int32)
    cases = [
        bad("linear_regression/features=None", lambda: models.linear_regression(None), "features"),
        bad("linear_regression/features=str", lambda: models.linear_regression("x"), "features"),
        bad("linear_regression/features 3-D", lambda: models.linear_regression(np.ones([2, 2, 2], np.float32)), "features"),
        bad("linear_regression/features NaN", lambda: models.linear_regression(np.full([4, 2], np.nan, np.float32)), "features"),
        bad("linear_regression/noise_scale=-1", lambda: models.linear_regression(X, noise_scale=-1.0), "noise_scale"),
        bad("linear_regression/prior_scale=str", lambda: models.linear_regression(X, prior_scale="a"), "prior_scale"),
        bad("linear_regression.condition/observed=array", lambda: models.linear_regression.condition(X, observed=np.ones(4)), "observed"),
        bad("linear_regression.condition/wrong shape", lambda: models.linear_regression.condition(X, observed={"y": np.ones(5)}), "y", ObservedError),
        bad("linear_regression.condition/NaN y", lambda: models.linear_regression.condition(X, observed={"y": np.full(4, np.nan)}), "y", ObservedError),
        bad("linear_regression.condition/unknown node", lambda: models.linear_regression.condition(X, observed={"zz": 1.0}), "zz", ObservedError),
        bad("logistic_regression/features=None", lambda: models.logistic_regression(None), "features"),
        bad("logistic_regression/features 1-D", lambda: models.logistic_regression(np.ones(4, np.float32)), "features"),
        bad("logistic_regression/features inf", lambda: models.logistic_regression(np.full([4, 2], np.inf, np.float32)), "features"),
        bad("logistic_regression/features int strings", lambda: models.logistic_regression(np.array([["a", "b"]])), "features"),
        bad("logistic_regression.condition/label 2", lambda: models.logistic_regression.condition(X, observed={"y": np.full(4, 2)}), "y", ObservedError),
        bad("logistic_regression.condition/label -1", lambda: models.logistic_regression.condition(X, observed={"y": np.full(4, -1)}), "y", ObservedError),
        bad("logistic_regression.condition/observed=array", lambda: models.logistic_regression.condition(X, observed=np.ones(4)), "observed"),
        bad("multinomial_logistic_regression/num_classes=0", lambda: models.multinomial_logistic_regression(X, 0), "num_classes"),
        bad("multinomial_logistic_regression/num_classes=float", lambda: models.multinomial_logistic_regression(X, 2.5), "num_classes"),
        bad("multinomial_logistic_regression/features=None", lambda: models.multinomial_logistic_regression(None), "features"),
        bad("multinomial_logistic_regression/features NaN", lambda: models.multinomial_logistic_regression(np.full([4, 2], np.nan, np.float32)), "features"),
        bad("multinomial_logistic_regression.condition/label 3", lambda: models.multinomial_logistic_regression.condition(X, observed={"y": np.full(4, 3)}), "y", ObservedError),
        bad("multinomial_logistic_regression.condition/float labels", lambda: models.multinomial_logistic_regression.condition(X, observed={"y": np.full(4, 0.5)}), "y", ObservedError),
        bad("eight_schools/sigma=None", lambda: models.eight_schools(None), "sigma"),
        bad("eight_schools/sigma negative", lambda: models.eight_schools(-np.ones(8, np.float32)), "sigma"),
        bad("eight_schools/sigma 2-D", lambda: models.eight_schools(np.ones([2, 8], np.float32)), "sigma"),
        bad("eight_schools/sigma NaN", lambda: models.eight_schools(np.full(8, np.nan, np.float32)), "sigma"),
        bad("eight_schools/centered=str", lambda: models.eight_schools(np.ones(8, np.float32), centered="no"), "centered"),
        bad("eight_schools.condition/wrong shape", lambda: models.eight_schools.condition(np.ones(8, np.float32), observed={"y": np.ones(7)}), "y", ObservedError),
        bad("eight_schools.condition/observed=array", lambda: models.eight_schools.condition(np.ones(8, np.float32), observed=np.ones(8)), "observed"),
        bad("gp_regression/locations=None", lambda: models.gp_regression(None), "locations"),
        bad("gp_regression/jitter=-1", lambda: models.gp_regression(locations, jitter=-1.0), "jitter"),
        bad("gp_regression/jitter=str", lambda: models.gp_regression(locations, jitter="a"), "jitter"),
        bad("gp_regression/locations NaN", lambda: models.gp_regression(np.full([4, 1], np.nan)), "locations"),
        bad("gp_regression/locations 3-D", lambda: models.gp_regression(np.ones([2, 2, 2])), "locations"),
        bad("gp_regression.condition/wrong shape", lambda: models.gp_regression.condition(locations, observed={"y": np.ones(5)}), "y", ObservedError),
        bad("gaussian_hmm/num_steps=0", lambda: models.gaussian_hmm(0), "num_steps"),
        bad("gaussian_hmm/num_steps=float", lambda: models.gaussian_hmm(2.5), "num_steps"),
        bad("gaussian_hmm/num_states=0", lambda: models.gaussian_hmm(5, 0), "num_states"),
        bad("gaussian_hmm/stickiness=-1", lambda: models.gaussian_hmm(5, stickiness=-1.0), "stickiness"),
        bad("gaussian_hmm/num_steps=None", lambda: models.gaussian_hmm(None), "num_steps"),
        bad("gaussian_hmm.condition/wrong shape", lambda: models.gaussian_hmm.condition(5, observed={"y": np.ones(4)}), "y", ObservedError),
        bad("stochastic_volatility/returns=None", lambda: models.stochastic_volatility(None), "returns"),
        bad("stochastic_volatility/returns 2-D", lambda: models.stochastic_volatility(np.ones([2, 3], np.float32)), "returns"),
        bad("stochastic_volatility/returns NaN", lambda: models.stochastic_volatility(np.full(5, np.nan, np.float32)), "returns"),
        bad("stochastic_volatility/form unknown", lambda: models.stochastic_volatility(np.ones(5, np.float32), form="fast"), "form"),
        bad("stochastic_volatility/returns empty", lambda: models.stochastic_volatility(np.ones(0, np.float32)), "returns"),
        bad("log_gaussian_cox_process/jitter=-1", lambda: models.log_gaussian_cox_process(grid, counts, jitter=-1.0), "jitter"),
        bad("log_gaussian_cox_process/counts negative", lambda: models.log_gaussian_cox_process(grid, -counts), "counts"),
        bad("log_gaussian_cox_process/counts wrong length", lambda: models.log_gaussian_cox_process(grid, np.ones(3, np.int32)), "counts"),
        bad("log_gaussian_cox_process/dtype=int", lambda: models.log_gaussian_cox_process(grid, counts, dtype=tf.int32), "dtype"),
        bad("log_gaussian_cox_process/locations=None", lambda: models.log_gaussian_cox_process(None, counts), "locations"),
        bad("log_gaussian_cox_process/counts float", lambda: models.log_gaussian_cox_process(grid, counts + 0.5), "counts"),
    ]
    return cases


CASES += _model_cases()


# -- valid but unusual inputs ---------------------------------------------------------------


class Accept(NamedTuple):
    id: str
    call: Callable[[], Any]
    reaches_compile: bool = False
    xfail: Optional[str] = None


def ok(id: str, call: Callable[[], Any], reaches_compile: bool = False, xfail: Optional[str] = None) -> Accept:
    return Accept(id, call, reaches_compile, xfail)


ACCEPTED: List[Accept] = [
    ok("check/numpy sample_shape and seed", lambda: tfjoint.check(model(), np.array([2, 1]), seed=np.int64(3))),
    ok("check/tuple seed", lambda: tfjoint.check(model(), (2,), seed=(1, 2))),
    ok("sample/numpy int shape", lambda: tfjoint.sample(model(), np.int32(2), seed=[1, 2])),
    ok("trace_bijector/numpy seed", lambda: tfjoint.trace_bijector(tfd.Normal(0.0, 1.0), tfb.Exp(), seed=np.int64(1))),
    ok("model/numpy batch_ndims", lambda: tfjoint.model(batch_ndims=np.int64(0))(_builder().fn)),
    ok("builder.condition/tuple data", lambda: _builder().condition((1.0, 2.0), observed={"y": (1.0, 2.0)})),
    ok("condition/numpy float data", lambda: tfjoint.condition(model(), {"y": np.float32(1.0)})),
    ok("compare_variants/one mode as a str", lambda: _compare(modes="eager")),
    ok("compare_variants/numpy repeats and atol", lambda: _compare(repeats=np.int64(1), atol=np.float32(1e-4))),
    ok("check_batched/list args and numpy batch_shape", lambda: tfjoint.check_batched(tf.math.sin, [tf.ones([2])], batch_shape=np.array([3]))),
    ok("check_batched/in_axes list", lambda: tfjoint.check_batched(tf.add, (tf.ones([2]), tf.ones([2])), in_axes=[0, None])),
    ok("vectorize/in_axes list", lambda: tfjoint.vectorize(tf.add, in_axes=[0, None])(tf.ones([3, 2]), tf.ones([2]))),
    ok("vectorize/numpy in_axes", lambda: tfjoint.vectorize(tf.math.sin, in_axes=np.int64(0))(tf.ones([3]))),
    ok("xla_consistency/numpy tolerances", lambda: tfjoint.xla_consistency(tf.math.sin, tf.ones([2]), rtol=np.float32(1e-4), atol=np.float64(1e-6))),
    ok("xla_consistency/int tolerances", lambda: tfjoint.xla_consistency(tf.math.sin, tf.ones([2]), rtol=0, atol=1)),
    ok("nuts/numpy ints and floats", lambda: _nuts(num_chains=np.int64(2), num_results=np.int32(2), target_accept_prob=np.float32(0.9),
                                                   step_size=np.float32(0.5), seed=np.int64(1)), reaches_compile=True),
    ok("nuts/seed tuple and list", lambda: (_nuts(seed=(1, 2)), _nuts(seed=[1, 2])), reaches_compile=True),
    ok("nuts/checkpoint_dir pathlib", lambda: _nuts(checkpoint_dir=_tmp_path()), reaches_compile=True),
    ok("hmc/numpy num_leapfrog_steps", lambda: _hmc(num_leapfrog_steps=np.int64(3)), reaches_compile=True),
    ok("vi/numpy learning_rate", lambda: _vi(learning_rate=np.float32(0.05), num_steps=np.int64(2)), reaches_compile=True),
    ok("vi/numpy learning_rate_decay", lambda: _vi(learning_rate_decay=np.float32(0.5)), reaches_compile=True),
    ok("map_estimate/numpy tolerance", lambda: _map(tolerance=np.float32(1e-5), num_starts=np.int64(2)), reaches_compile=True),
    ok("minimize/numpy initial positions", lambda: _minimize(initial_positions=np.ones([2, 2], np.float32), max_iterations=np.int64(3)),
       reaches_compile=True),
    ok("summarize/prob np.float32", lambda: infer.summarize({"mu": draws((4, 200))}, prob=np.float32(0.9), warn=False)),
    ok("summarize/prob np.float64 and var_names tuple", lambda: infer.summarize({"mu": draws((4, 200))}, prob=np.float64(0.5), var_names=("mu",), warn=False)),
    ok("Posterior.summary/prob np.float32", lambda: posterior({"mu": draws((4, 200))}).summary(prob=np.float32(0.8), warn=False)),
    ok("rhat/list of lists", lambda: infer.rhat([[1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 1.0]])),
    ok("ess_bulk/float32 draws", lambda: infer.ess_bulk(draws((2, 50)).astype(np.float32))),
    ok("predictive/observed_names str and tuple", lambda: (infer.predictive(model(), posterior(), observed_names="y", seed=np.int64(1)),
                                                          infer.predictive(model(), posterior(), observed_names=("y",), seed=(1, 2)))),
    ok("to_arviz/numpy float32 predictive draws", lambda: infer.to_arviz(posterior(), {"y": np.zeros((2, 8), np.float32)})),
    ok("shard_chains/numpy num_chains", lambda: infer.shard_chains(_hmc_kernel, _gauss, _strategy(), num_chains=np.int64(2))),
    ok("sharded_log_prob/numpy axis", lambda: infer.sharded_log_prob(models.linear_regression, _lr_data(), _strategy(), axis=np.int64(0))),
    ok("FlatTarget.initial_state/numpy num_chains", lambda: target().initial_state(np.int64(2), seed=np.int32(0))),
    ok("make_target/observed numpy scalar", lambda: infer.make_target(model(), {"y": np.float64(1.0)})),
]


def _tmp_path():
    import pathlib
    import tempfile

    return pathlib.Path(tempfile.mkdtemp(prefix="tfjoint_bad_inputs_"))


# -- the tests ----------------------------------------------------------------------------------


def _stop_at_compile(monkeypatch):
    from tfjoint.infer import _map, _vi
    from tfjoint.infer.run import program as _program

    def reached(*args, **kwargs):
        raise ReachedCompile()

    monkeypatch.setattr(_program.Program, "prepare", reached)
    monkeypatch.setattr(_vi, "_compiled_fit", reached)
    monkeypatch.setattr(_map, "_compiled_search", reached)
    monkeypatch.setattr(_map, "_search_function", reached)


@pytest.fixture(autouse=True)
def stop_at_compile(monkeypatch):
    """The samplers' and optimizers' compile steps raise `ReachedCompile`: nothing here compiles or samples."""
    _stop_at_compile(monkeypatch)


def _params(cases):
    return [
        pytest.param(c, id=c.id, marks=pytest.mark.xfail(strict=True, reason=c.xfail) if c.xfail else ())
        for c in cases
    ]


@pytest.mark.parametrize("case", _params(CASES))
def test_entry_point__rejects_bad_input(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a warning on the way to the error is not what is tested here
        with pytest.raises(case.error, match=case.match):
            case.call()


@pytest.mark.parametrize("case", _params(ACCEPTED))
def test_entry_point__accepts_unusual_valid_input(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case.reaches_compile:
            with pytest.raises(ReachedCompile):
                case.call()
        else:
            case.call()


def outcomes(cli_cwd: Optional[str] = None) -> List[tuple]:
    """Run every bad-input case (and, given a directory holding `mymodels.py`, every command line).

    Returns `(id, outcome, detail)` rows; the outcome is "ok" (the expected
    tfjoint error, naming what is wrong), "vague" (a tfjoint error of another
    type, or one that does not name it; for the command line, no traceback but
    not exit 2), "foreign" (an error that is not tfjoint's own: a bare Python,
    NumPy or TensorFlow error, or a traceback) or "accepted" (no error before
    compiling or running).
    """
    rows = []
    mp = pytest.MonkeyPatch()
    try:
        _stop_at_compile(mp)
        for case in CASES:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    case.call()
                rows.append((case.id, "accepted", ""))
            except ReachedCompile:
                rows.append((case.id, "accepted", "reached compile"))
            except _errors.TfjointError as e:
                good = isinstance(e, case.error) and re.search(case.match, str(e))
                rows.append((case.id, "ok" if good else "vague", _errors.first_line(e)))
            except Exception as e:  # noqa: BLE001
                rows.append((case.id, "foreign", _errors.first_line(e)[:160]))
    finally:
        mp.undo()
    if cli_cwd is not None:
        with open(os.path.join(cli_cwd, "mymodels.py"), "w") as f:
            f.write(CLI_PROJECT)
        rows.extend(cli_outcome(c, cli_cwd) for c in CLI_CASES)
    return rows


# -- results that cannot be trusted say so --------------------------------------------------


def test_summarize__non_finite_draws_warn_and_are_not_ok():
    x = draws((4, 200))
    x[1, 5], x[2, 7] = np.nan, np.inf
    with pytest.warns(infer.ConvergenceWarning, match=r"Non-finite draws .* 1 of 2 coordinates .*'mu': 2 of 800 draws"):
        summary = infer.summarize({"mu": x, "sigma": np.abs(draws((4, 200)))})
    assert not summary.ok and len(summary.warnings) == 1


def test_posterior_summary__non_finite_draws_warn_and_are_not_ok():
    x = draws((4, 1000, 3))
    x[0, :, 1] = np.nan
    with pytest.warns(infer.ConvergenceWarning, match=r"'mu\[1\]': 1000 of 4000 draws"):
        summary = posterior({"mu": x}).summary(prob=np.float32(0.9))
    assert not summary.ok


# -- a user's own exception passes through, with a note -------------------------------------


class UsersOwnError(KeyError):
    """An exception type AutoGraph would wrap in a StagingError if it were not passed through."""


def _raises_users_error(*args):
    raise UsersOwnError("from the user's function")


@pytest.mark.parametrize(
    "entry_point, call",
    [
        ("tfjoint.vectorize", lambda: tfjoint.vectorize(_raises_users_error)(tf.ones([3, 2]))),
        ("tfjoint.jit", lambda: tfjoint.jit(_raises_users_error)(tf.ones([3, 2]))),
        ("tfjoint.vectorize", lambda: tfjoint.jit(tfjoint.vectorize(_raises_users_error))(tf.ones([3, 2]))),
        ("tfjoint.vectorize", lambda: tf.function(tfjoint.vectorize(_raises_users_error))(tf.ones([3, 2]))),
        ("tfjoint.xla_consistency", lambda: tfjoint.xla_consistency(_raises_users_error, tf.ones([2]))),
        ("tfjoint.check_batched", lambda: tfjoint.check_batched(_raises_users_error, (tf.ones([2]),))),
    ],
    ids=["vectorize", "jit", "jit(vectorize)", "tf.function(vectorize)", "xla_consistency", "check_batched"],
)
def test_user_error__passes_through_unchanged_with_a_note(entry_point, call):
    with pytest.raises(UsersOwnError) as info:
        call()
    assert type(info.value) is UsersOwnError and info.value.args == ("from the user's function",)
    if sys.version_info >= (3, 11):
        assert any(entry_point in note and "_raises_users_error" in note for note in info.value.__notes__)


def test_check_batched__failing_only_on_the_batch_is_a_shape_error():
    # tf.reshape(x, [2]) traces for one example of shape [2] and cannot trace for a batch [3, 2].
    with pytest.raises(ShapeError, match="on a batch of shape \\[3\\]"):
        tfjoint.check_batched(lambda x: tf.reshape(x, [2]), (tf.ones([2]),), batch_shape=(3,))


def test_xla_consistency__tolerances_are_checked_before_anything_runs():
    calls = []

    def fn(x):
        calls.append(x)
        return x

    with pytest.raises(ArgumentError, match="Argument: atol"):
        tfjoint.xla_consistency(fn, tf.ones([2]), atol=-1e-6)
    assert calls == []


# -- the command line ---------------------------------------------------------------------


CLI_PROJECT = textwrap.dedent(
    """
    import tensorflow_probability as tfp
    tfd = tfp.distributions
    jd = tfd.JointDistributionNamed(dict(mu=tfd.Normal(0., 1.), y=lambda mu: tfd.Normal(mu, 1.)))
    pinned = jd.experimental_pin(y=1.)
    not_a_model = 3
    def raises():
        return 1 / 0
    """
)
CLI = "tfjoint/cli/main.py"


class CliCase(NamedTuple):
    id: str
    args: tuple
    match: str
    slow: bool
    xfail: Optional[str] = None
    exit_code: int = 2


def cli(id: str, args: str, match: str, slow: bool = True, xfail: Optional[str] = None, exit_code: int = 2) -> CliCase:
    """A bad command line: it must exit `exit_code` (2: usage) with `match` on stderr and no Python traceback."""
    return CliCase(id, tuple(args.split()), match, slow, xfail, exit_code)


CLI_CASES: List[CliCase] = [
    # Parsed before TensorFlow loads: fast.
    *[
        c
        for command in ("check", "compare", "graph", "fit")
        for c in (
            cli(f"{command}/--seed=abc", f"{command} --seed=abc", "--seed", slow=False),
            cli(f"{command}/--format=html", f"{command} --format=html", "--format", slow=False),
            cli(f"{command}/--num_chains=1.5", f"{command} --num_chains=1.5", "--num_chains", slow=False),
            cli(f"{command}/--sample_shape=a", f"{command} --sample_shape=a", "--sample_shape", slow=False),
            cli(f"{command}/--bogus", f"{command} --bogus", "unrecognized arguments: --bogus", slow=False),
        )
    ],
    *[cli(f"{command}/two targets", f"{command} mymodels:jd mymodels:pinned", "unrecognized arguments", slow=False)
      for command in ("compare", "graph", "fit")],
    cli("unknown command", "frobnicate", "invalid choice: 'frobnicate'", slow=False),
    cli("fit/--num_chains=0", "fit mymodels:pinned --num_chains=0", "num_chains", slow=False),
    cli("fit/--num_results=-3", "fit mymodels:pinned --num_results=-3", "num_results", slow=False),
    cli("check/--sample_shape=-1", "check mymodels:jd --sample_shape=-1", "sample_shape", slow=False),
    cli("compare/--modes=fast", "compare mymodels:jd --modes=fast", "modes", slow=False),
    cli("compare/--sample_shape=-1", "compare mymodels:jd --sample_shape=-1", "sample_shape", slow=False),
    # Load TensorFlow and the target: slow.
    cli("check/target without models", "check json", "defines no joint model"),
    cli("check/not a model", "check mymodels:not_a_model", "not_a_model|joint model"),
    cli("check/no such module", "check no_such_module_xyz:jd", "Cannot import"),
    cli("check/target function raises", "check mymodels:raises", "raises", exit_code=3),
    cli("compare/not a model", "compare mymodels:not_a_model", "not_a_model|joint model"),
    cli("compare/missing attribute", "compare mymodels:missing", "no attribute 'missing'"),
    cli("compare/no such file", "compare no/such/file.py:jd", "No such file"),
    cli("graph/not a model", "graph mymodels:not_a_model", "not_a_model|joint model"),
    cli("graph/missing attribute", "graph mymodels:missing", "no attribute 'missing'"),
    cli("graph/target without :attr", "graph mymodels", "no ':attr'"),
    cli("graph/target function raises", "graph mymodels:raises", "raises", exit_code=3),
    cli("graph/no such file", "graph no/such/file.py:jd", "No such file"),
    cli("fit/not pinned", "fit mymodels:jd", "not pinned"),
    cli("fit/not a model", "fit mymodels:not_a_model", "not_a_model|joint model"),
    cli("fit/missing attribute", "fit mymodels:missing", "no attribute 'missing'"),
]


@pytest.fixture(scope="module")
def cli_project(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli_project")
    (path / "mymodels.py").write_text(CLI_PROJECT)
    return path


def run_cli(args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "tfjoint", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


def _cli_params():
    params = []
    for c in CLI_CASES:
        marks = [pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []
        if c.slow:
            marks.append(pytest.mark.slow)
        params.append(pytest.param(c, id=c.id, marks=marks))
    return params


@pytest.mark.parametrize("case", _cli_params())
def test_cli__rejects_bad_input(case, cli_project):
    out = run_cli(case.args, cli_project)
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.returncode == case.exit_code, (out.returncode, out.stderr[-2000:])
    assert re.search(case.match, out.stderr), out.stderr[-2000:]


def cli_outcome(case: CliCase, cwd) -> tuple:
    """`(id, outcome, detail)` for one command line, classified as `outcomes()` classifies calls."""
    out = run_cli(case.args, cwd)
    last = [line for line in out.stderr.strip().splitlines() if line.strip()][-1:] or [""]
    if "Traceback" in out.stderr:
        return (f"cli {case.id}", "foreign", last[0][:160])
    if out.returncode == 0:
        return (f"cli {case.id}", "accepted", "")
    good = out.returncode == case.exit_code and re.search(case.match, out.stderr)
    return (f"cli {case.id}", "ok" if good else "vague", f"exit {out.returncode}: {last[0][:140]}")


if __name__ == "__main__":  # python tests/test_bad_inputs.py [--cli]: the catalogue's outcomes, and the shares
    import collections
    import tempfile

    rows = outcomes(cli_cwd=tempfile.mkdtemp() if "--cli" in sys.argv else None)
    for row in rows:
        if row[1] != "ok":
            print(f"{row[1]:9s} {row[0]}: {row[2]}")
    counts = collections.Counter(row[1] for row in rows)
    print(f"{len(rows)} cases: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    print(f"not tfjoint's own error: {counts['foreign'] / len(rows):.1%}; "
          f"no tfjoint error at all (foreign or accepted): {(counts['foreign'] + counts['accepted']) / len(rows):.1%}")
