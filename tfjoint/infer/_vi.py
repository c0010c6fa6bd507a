"""Variational inference: a Gaussian surrogate on the flat unconstrained space, fit under XLA.

`vi` flattens the free nodes into one unconstrained vector `[dim]` (see
`make_target`) and fits a Gaussian there: a diagonal `MultivariateNormalDiag`
("mean_field", ADVI's mean-field family) or a `MultivariateNormalTriL` whose
scale is parametrised by `tfb.FillScaleTriL` ("full_rank"). The Gaussian is
pushed through the target's flat bijector, so the returned surrogate is a
plain `tfd.TransformedDistribution` over `{node name: constrained value}`:
it samples and scores values with the model's own structure.

The fit is TFP's `tfp.vi.fit_surrogate_posterior_stateless` (reparameterised
Monte Carlo ELBO, reverse KL) driven by a small pure-functional Adam written
here in TensorFlow (TFP's stateless fitter wants an optax-style
`init`/`update` pair, which TF does not ship). The whole loop and the final
draws run inside one `tf.function(jit_compile=True)`: one XLA program, cached
per model signature and settings, with the observed data as its arguments
(a second call with new data of the same shapes compiles nothing).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Literal, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import format as _format
from tfjoint._base import stack as _stack
from tfjoint._base import types as _types
from tfjoint._compile import jit as _jit
from tfjoint.infer.results import posterior as _posterior
from tfjoint.infer.results import summary as _summary
from tfjoint.infer.run import progress as _progress
from tfjoint.infer.target import flat as _target
from tfjoint.infer.target import function as _function
from tfjoint.infer.target import init as _init
from tfjoint.infer.target import signature as _signature

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["VIFit", "vi"]

SurrogateKind = Literal["mean_field", "full_rank"]

_INITIAL_SCALE = 0.1  # NumPyro's AutoNormal default init_scale


class _Adam:
    """Adam (Kingma and Ba, 2015) as a pure `init`/`update` pair, the interface TFP's stateless fitters take."""

    def __init__(
        self,
        learning_rate: float,
        decay: float = 1.0,
        num_steps: int = 1,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
    ):
        # Exponential schedule: step t (1-based) uses learning_rate * decay ** ((t - 1) / num_steps).
        self.learning_rate, self.decay, self.num_steps = learning_rate, decay, num_steps
        self.b1, self.b2, self.eps = b1, b2, eps

    def init(self, params: Any) -> Any:
        zeros = tf.nest.map_structure(tf.zeros_like, params)
        return (tf.zeros([], tf.int32), zeros, tf.nest.map_structure(tf.zeros_like, params))

    def update(self, grads: Any, state: Any, params: Any = None) -> Tuple[Any, Any]:
        del params
        count, mu, nu = state
        count = count + 1
        mu = tf.nest.map_structure(lambda m, g: self.b1 * m + (1.0 - self.b1) * g, mu, grads)
        nu = tf.nest.map_structure(lambda v, g: self.b2 * v + (1.0 - self.b2) * tf.square(g), nu, grads)

        def step(m, v):
            t = tf.cast(count, m.dtype)
            m_hat = m / (1.0 - tf.pow(tf.constant(self.b1, m.dtype), t))
            v_hat = v / (1.0 - tf.pow(tf.constant(self.b2, m.dtype), t))
            rate = self.learning_rate * tf.pow(tf.constant(self.decay, m.dtype), (t - 1.0) / self.num_steps)
            return -rate * m_hat / (tf.sqrt(v_hat) + self.eps)

        return tf.nest.map_structure(step, mu, nu), (count, mu, nu)


def _flat_surrogate(kind: str, loc: tf.Tensor, scale_param: tf.Tensor) -> tfd.Distribution:
    """The Gaussian on the flat unconstrained space `[dim]`."""
    if kind == "mean_field":
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.nn.softplus(scale_param) + 1e-6)
    return tfd.MultivariateNormalTriL(loc=loc, scale_tril=tfb.FillScaleTriL(diag_shift=1e-6)(scale_param))


def _initial_scale_param(kind: str, dim: int, dtype: tf.DType) -> tf.Tensor:
    scale = tf.constant(_INITIAL_SCALE, dtype)
    if kind == "mean_field":
        return tf.fill([dim], tfp.math.softplus_inverse(scale - 1e-6))
    return tfb.FillScaleTriL(diag_shift=1e-6).inverse(scale * tf.eye(dim, dtype=dtype))


@dataclasses.dataclass(frozen=True, eq=False)
class VIFit(_format.Report):
    """The result of `vi`: the fitted surrogate, the loss trace and draws.

    Attributes:
      surrogate: plain TFP distribution over `{node name: constrained value}`
        (a `tfd.TransformedDistribution` of the flat Gaussian).
      flat_surrogate: the Gaussian on the flat unconstrained space `[dim]`.
      losses: negative ELBO estimate at each step, `np.ndarray` of shape `[num_steps]`.
      posterior: `Posterior` with `num_draws` surrogate draws as one chain:
        draws `[1, num_draws, *event_shape]`, `method="vi"`.
      mean, stddev: node name -> the surrogate's mean and standard deviation
        in constrained space, `[*event_shape]` (Monte Carlo over the draws:
        the push-forward through a nonlinear bijector has no closed form).
      kind: "mean_field" or "full_rank".
    """

    surrogate: tfd.Distribution
    flat_surrogate: tfd.Distribution
    losses: np.ndarray
    posterior: Any
    mean: Mapping[str, np.ndarray]
    stddev: Mapping[str, np.ndarray]
    kind: str

    def __post_init__(self):
        if np.ndim(self.losses) != 1:
            raise ValueError(f"VIFit.losses must have shape [num_steps], got {list(np.shape(self.losses))}.")
        if set(self.mean) != set(self.stddev):
            raise ValueError("VIFit.mean and VIFit.stddev must name the same nodes.")

    @property
    def elbo(self) -> float:
        """The ELBO averaged over the last 10% of steps (a less noisy end-of-fit value)."""
        tail = max(1, self.losses.shape[0] // 10)
        return -float(np.mean(self.losses[-tail:]))

    def _tables(self):
        rows = []
        for name, m in self.mean.items():
            s = self.stddev[name]
            flat_m, flat_s = np.ravel(m), np.ravel(s)
            shown = ", ".join(f"{a:.3g} ({b:.2g})" for a, b in zip(flat_m[:4], flat_s[:4]))
            if flat_m.size > 4:
                shown += ", ..."
            rows.append((name, _types.shape_str(np.shape(m)), shown))
        return [_format.Table(("node", "event_shape", "mean (stddev)"), tuple(rows))]

    def _title(self) -> str:
        return f"VI fit ({self.kind}, {self.losses.shape[0]} steps)"

    def _notes(self):
        return [f"ELBO (mean of the last 10% of steps): {self.elbo:.6g}", f"Draws: {self.posterior.num_draws} (as one chain)"]

    def _parts(self):
        return self._title(), self._tables(), self._notes()

    def __repr__(self) -> str:
        """A few lines: the family, the steps, the ELBO and each node's shape (never the arrays)."""
        nodes = ", ".join(f"{k} {list(np.shape(v))}" for k, v in list(self.mean.items())[:8])
        more = f", ... ({len(self.mean)} nodes)" if len(self.mean) > 8 else ""
        return (f"<VIFit {self.kind}: {self.losses.shape[0]} steps, ELBO {self.elbo:.6g}\n"
                f"  nodes: {nodes}{more}; {self.posterior.num_draws} draws>")


# A surrogate scale this close to its floor (1e-6) has collapsed onto a point.
_COLLAPSED_SCALE = 1e-5
_FIX_VI = (
    "lower learning_rate (or learning_rate_decay, so the steps shrink sooner), raise num_steps,\n"
    "or check the model at the surrogate's mean with tfjoint.debug(model, value)."
)


def _warn_if_untrustworthy(losses: np.ndarray, flat_q: tfd.Distribution, target: _target.FlatTarget) -> None:
    """Warn (`ConvergenceWarning`) when the fit cannot be trusted: a non-finite or diverging ELBO, or a collapsed scale."""
    stacklevel = _stack.user_stacklevel()
    bad = ~np.isfinite(losses)
    if bad.any():
        warnings.warn(
            f"The ELBO is not finite: the loss is NaN or inf from step {int(np.argmax(bad)) + 1} of {len(losses)} on, "
            f"so the fitted surrogate is meaningless.\nFix: {_FIX_VI}",
            _summary.ConvergenceWarning, stacklevel=stacklevel,
        )
        return
    window = max(1, len(losses) // 10)
    first, last = float(np.mean(losses[:window])), float(np.mean(losses[-window:]))
    if len(losses) >= 20 and last > first:
        warnings.warn(
            f"The ELBO diverged: the mean loss of the last {window} steps ({last:.6g}) is worse than that of the "
            f"first {window} ({first:.6g}).\nFix: {_FIX_VI}",
            _summary.ConvergenceWarning, stacklevel=stacklevel,
        )
    scale = np.asarray(flat_q.stddev())
    collapsed = sorted({node for node, sd in zip(target.coordinate_nodes(), scale) if not sd > _COLLAPSED_SCALE})
    if collapsed:
        warnings.warn(
            f"The surrogate's scale collapsed (below {_COLLAPSED_SCALE:g} in unconstrained space) for "
            f"{', '.join(repr(n) for n in collapsed)}: its draws of those nodes are (nearly) one point.\nFix: {_FIX_VI}",
            _summary.ConvergenceWarning, stacklevel=stacklevel,
        )


# Compiled fits by model signature and settings: a second call with new data of the
# same shapes (or a new seed) compiles nothing.
_CACHE = _signature.LruCache(16)


def _compiled_fit(
    model: Any,
    fit_target: _target.FlatTarget,
    draws_target: _target.FlatTarget,
    settings: Tuple[Any, ...],
    jit_compile: bool,
):
    """The cached `(params0, fit_seed, draw_seed, data) -> (params, losses, values, lp)` and its data."""
    data, prov, rebuild_fit = _signature.data_arguments(fit_target, log_prob_only=True)
    _, _, rebuild_draws = _signature.data_arguments(draws_target, log_prob_only=False)
    structure, keepalive = _signature.structure_key(model, fit_target, data, prov)
    surrogate, num_steps, learning_rate, learning_rate_decay, sample_size, num_draws = settings

    def build(loc, scale_param):
        return _flat_surrogate(surrogate, loc, scale_param)

    def fit(init_params, fit_seed, draw_seed, data):
        fit_flat, draws_flat = rebuild_fit(data), rebuild_draws(data)
        params, losses = tfp.vi.fit_surrogate_posterior_stateless(
            fit_flat.log_prob,
            build_surrogate_posterior_fn=build,
            initial_parameters=init_params,
            optimizer=_Adam(learning_rate, decay=learning_rate_decay, num_steps=num_steps),
            num_steps=num_steps,
            sample_size=sample_size,
            seed=fit_seed,
        )
        x = build(*params).sample(num_draws, seed=draw_seed)
        return params, losses, draws_flat.constrain(x), draws_flat.log_prob(x)

    def make():
        return keepalive, tf.function(fit, jit_compile=jit_compile, autograph=False)

    # The draws' target differs from the fit's only in its batching, which its layout key holds.
    key = (structure, draws_target.layout_key(), settings, jit_compile)
    return _CACHE.get(key, make)[1], data


def vi(
    model: Any,
    observed: Optional[Mapping[str, Any]] = None,
    *,
    initial_state: Any = None,
    bijector: Any = None,
    init: Any = None,
    surrogate: SurrogateKind = "mean_field",
    num_steps: int = 1000,
    learning_rate: float = 0.05,
    learning_rate_decay: float = 0.01,
    sample_size: int = 1,
    num_draws: int = 1000,
    seed: _types.Seed = 0,
    jit_compile: bool = True,
    progress: bool = True,
    warn: bool = True,
) -> VIFit:
    """Fit a Gaussian surrogate posterior in unconstrained space by maximising the ELBO.

    Args:
      model: any tfjoint model input (list, dict, generator, `tfd.JointDistribution*`),
        a log-density function with `initial_state`, or an object with the
        target protocol (see `tfjoint.infer.nuts`).
      observed: node name -> data of shape `batch_shape + event_shape`.
      initial_state, bijector: for a log-density function (see `tfjoint.infer.nuts`).
      init: the surrogate's initial mean (see `tfjoint.infer.nuts`); by
        default drawn uniform(-2, 2) in unconstrained space (a function's
        `initial_state`, jittered).
      surrogate: "mean_field" (diagonal Gaussian) or "full_rank" (Gaussian
        with a dense lower-triangular scale, `dim * (dim + 1) / 2` parameters).
      num_steps: Adam steps.
      learning_rate: Adam's step size at the first step.
      learning_rate_decay: the last step's step size is
        `learning_rate * learning_rate_decay`, decaying exponentially in
        between; 1.0 keeps it constant. A constant step size leaves the fitted
        parameters jittering by about `0.2 * learning_rate` around the optimum
        (Adam's steps do not shrink with noisy gradients), which can be a
        sizeable fraction of a posterior standard deviation. Adam moves each
        coordinate by at most about the step size per step, so with the
        default decay a run travels at most ~`0.21 * learning_rate *
        num_steps` in unconstrained space: for a short run, or a start far
        from the posterior, raise `num_steps` or `learning_rate`.
      sample_size: Monte Carlo draws per step for the ELBO gradient.
      num_draws: surrogate draws returned in `posterior` (one chain).
      seed: stateless seed; the same seed gives the same losses and draws.
      jit_compile: compile the fit and the draws with XLA, as one program.
      progress: show progress between the compiled pieces (tracing, then
        compiling and fitting, with its elapsed time, then the ELBO); `False`
        shows nothing.
      warn: emit a `ConvergenceWarning` when the fit cannot be trusted (a
        non-finite or diverging ELBO, a collapsed scale).

    Returns:
      A `VIFit`.

    Raises:
      ArgumentError: for an unknown `surrogate` or a non-positive count.
      ObservedError: for observed data that does not fit the model.
      NonFiniteLogProbError: if no finite initial point can be found.
      XlaCompileError: if XLA cannot compile the model (pass `jit_compile=False`).

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> model = dict(mu=tfd.Normal(0., 1.), y=lambda mu: tfd.Normal(mu, 1.))
      >>> fit = vi(model, observed={"y": 2.0}, num_steps=1000, num_draws=2000, seed=1)
      >>> fit.posterior.draws["mu"].shape          # [chain, draw]
      (1, 2000)
      >>> round(float(fit.mean["mu"]), 1), round(float(fit.stddev["mu"]), 1)  # exact: 1.0, 0.71
      (1.0, 0.7)
    """
    _types.check_literal(surrogate, SurrogateKind, "surrogate")
    num_steps = _types.check_int(num_steps, "num_steps", 1, 1000)
    sample_size = _types.check_int(sample_size, "sample_size", 1, 1)
    num_draws = _types.check_int(num_draws, "num_draws", 1, 1000)
    learning_rate = _types.check_positive_float(learning_rate, "learning_rate", "0.05")
    learning_rate_decay = _types.check_float(
        learning_rate_decay, "learning_rate_decay", minimum=0.0, exclusive_minimum=True, maximum=1.0, example=0.01
    )
    jit_compile = _types.check_bool(jit_compile, "jit_compile")
    report = _progress.Progress("vi", enabled=_types.check_bool(progress, "progress"))
    warn = _types.check_bool(warn, "warn")
    seed_tensor = _types.as_seed(seed)
    clock = _progress.Stopwatch()
    init = _init.check_init(init)
    target = _function.resolve(model, observed, initial_state, bijector)
    init_seed, fit_seed, draw_seed = tfp.random.split_seed(seed_tensor, 3)
    # An AutoBatched model's batches (`sample_size` draws per step, then the
    # `num_draws` returned) are evaluated by broadcasting when its ops allow it
    # (checked at each batch size).
    fit_check_seed, draws_check_seed = tfp.random.split_seed(draw_seed, 2)
    fit_target = _signature.for_batch(model, target, sample_size, fit_check_seed)
    draws_target = _signature.for_batch(model, target, num_draws, draws_check_seed)
    loc0 = _init.initial_points(target, init, 1, init_seed, example=initial_state if target.spec is None else None)[0]
    params0 = (loc0, _initial_scale_param(surrogate, target.dim, target.dtype))
    settings = (surrogate, num_steps, float(learning_rate), float(learning_rate_decay), sample_size, num_draws)
    compiled, data = _compiled_fit(model, fit_target, draws_target, settings, bool(jit_compile))
    args = (params0, fit_seed, draw_seed, data)
    setup_seconds = clock()
    fix = "pass jit_compile=False to fit without XLA, or keep that op out of the model."
    with _jit.naming_xla_errors("vi's fit", fix, enabled=bool(jit_compile)):
        # The fit's step count is static, so XLA's compile cannot run apart from the fit: time the trace alone.
        with report.phase("tracing", "traced"):
            compiled.get_concrete_function(*args)
        trace_seconds = clock() - setup_seconds
        with report.phase("compiling and fitting", "compiled and fitted", f"{num_steps} steps"):
            params, losses, values, lp = compiled(*args)
            flat_q = _flat_surrogate(surrogate, *[tf.constant(p.numpy()) for p in params])
    fit_seconds = clock() - setup_seconds - trace_seconds
    tail = max(1, num_steps // 10)
    report.message(f"ELBO {-float(np.mean(losses.numpy()[-tail:])):.6g} (mean of the last {tail} steps)")
    if warn:
        _warn_if_untrustworthy(losses.numpy(), flat_q, target)
    draws = {k: v[np.newaxis] for k, v in _posterior.node_entries(values).items()}
    observed_data = {k: np.asarray(v) for k, v in dict(getattr(target.pinned, "pins", {}) or {}).items()}
    tfp_to_name = {} if target.spec is None else dict(zip(target.spec.tfp_names, target.spec.names))
    posterior = _posterior.Posterior(
        draws=draws,
        sample_stats={"lp": lp.numpy()[np.newaxis]},
        observed={tfp_to_name.get(k, k): v for k, v in observed_data.items()},
        method="vi",
        seed=(int(seed_tensor[0]), int(seed_tensor[1])),  # as_seed gives shape [2]
        settings={
            "surrogate": surrogate,
            "num_steps": num_steps,
            "learning_rate": float(learning_rate),
            "learning_rate_decay": float(learning_rate_decay),
            "sample_size": sample_size,
            "num_draws": num_draws,
            "jit_compile": jit_compile,
        },
        timings={"setup": setup_seconds, "trace": trace_seconds, "compile_and_fit": fit_seconds, "total": clock()},
        model=target.pinned,
    )
    flat_draws = {k: v[0].astype(np.float64) for k, v in draws.items()}
    return VIFit(
        surrogate=tfd.TransformedDistribution(flat_q, target.flat_bijector, name=f"vi_{surrogate}"),
        flat_surrogate=flat_q,
        losses=losses.numpy(),
        posterior=posterior,
        mean={k: v.mean(axis=0) for k, v in flat_draws.items()},
        stddev={k: v.std(axis=0, ddof=1) for k, v in flat_draws.items()},
        kind=surrogate,
    )
