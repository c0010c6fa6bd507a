"""Maximum a posteriori estimates by vectorized multi-start L-BFGS or BFGS.

`map_estimate` flattens the free nodes into one unconstrained vector (see
`make_target`), draws `num_starts` initial points uniform(-2, 2) there, and runs
`tfp.optimizer.lbfgs_minimize` (or `bfgs_minimize`) on all of them at once, as
one batch, inside one `tf.function(jit_compile=True)`. That compiled search is
cached per model signature, method and `jacobian`, with the observed data,
`max_iterations` and `tolerance` as its arguments: a second call with new
data of the same shapes, or new search settings, compiles nothing. The first
call compiles with a search of zero iterations, so `MapEstimate.timings`
reports tracing and compiling apart from the search.

**Which compilation?** TFP's minimizers call the objective from ten places.
Under `jit_compile=True` XLA inlines all ten, so it compiles ten copies of
the model: on a model with many nodes that is most of the first call.
`jit_compile="objective"` compiles the objective's value-and-gradient alone
with XLA, once, and runs the minimizer's own loop in TensorFlow's graph
mode, which calls it: a first call several times shorter on such a model,
but every iteration then pays graph-mode overhead. Pick it for one search on
a big model; keep `True` for repeated searches.

**Which mode?** A density's mode depends on the coordinates. With
`jacobian=False` (the default) the objective is the pinned model's
unnormalized log-prob at the constrained point, `log p(bijector(x) | data)`,
so the result is the mode of the posterior density of the constrained
parameters: the usual MAP, as Stan's `optimize` computes it (Stan also drops
the Jacobian by default). With `jacobian=True` the objective adds the
log-det-Jacobian of the default event-space bijector, i.e. it is the mode of
the density of the *unconstrained* parameters (Stan's `jacobian=true`, the
centre of a Laplace approximation in unconstrained space), and it depends on
that bijector. For a `Gamma(3, 2)` scale `sigma`, `jacobian=False` gives the
density's mode `(3 - 1) / 2 = 1.0`; TFP maps positive nodes with `Softplus`,
so `jacobian=True` gives the root of `2 / sigma - 2 + 1 / (exp(sigma) - 1)`,
`sigma = 1.2508...` (with an `Exp` bijector it would be `3 / 2`). Unbounded
nodes are the same either way.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Literal, Mapping, Optional, Tuple, Union

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import format as _format
from tfjoint._base import types as _types
from tfjoint._compile import jit as _jit
from tfjoint.infer.run import progress as _progress
from tfjoint.infer.target import flat as _target
from tfjoint.infer.target import function as _function
from tfjoint.infer.target import init as _init
from tfjoint.infer.target import signature as _signature

__all__ = ["MapEstimate", "map_estimate", "minimize"]

Method = Literal["lbfgs", "bfgs"]

_NO_XLA_FIX = "pass jit_compile=False to run the search without XLA, or keep that op out of the model."

_MINIMIZERS = {"lbfgs": tfp.optimizer.lbfgs_minimize, "bfgs": tfp.optimizer.bfgs_minimize}

JitCompile = Union[bool, Literal["objective"]]
_COMPILED = {True: "search compiled by XLA", "objective": "objective compiled by XLA, search loop in graph mode", False: "graph mode"}


def _check_jit_compile(jit_compile: Any) -> JitCompile:
    if isinstance(jit_compile, bool) or jit_compile == "objective":
        return jit_compile
    raise _errors.ArgumentError(
        argument="jit_compile",
        expected='True (the whole search under XLA), False (none) or "objective" (the objective alone)',
        found=repr(jit_compile),
        fix='pass jit_compile=True, or "objective" for one search on a model with many nodes.',
    )


def _search_function(run: Callable, jit_compile: JitCompile) -> Callable:
    """`run` as a `tf.function`: compiled whole by XLA for `True`, in graph mode otherwise."""
    return tf.function(run, jit_compile=jit_compile is True, autograph=False)


def minimize(
    value_fn: Callable[[tf.Tensor], tf.Tensor],
    initial_positions: Any,
    *,
    method: Method = "lbfgs",
    max_iterations: int = 1000,
    tolerance: float = 1e-8,
    jit_compile: JitCompile = True,
):
    """Minimize a batched function from several starts at once with (L-)BFGS.

    A thin wrapper over `tfp.optimizer.lbfgs_minimize` / `bfgs_minimize` that
    computes the gradient for you and runs the whole search compiled.

    Args:
      value_fn: maps positions `Tensor` of shape `[num_starts, dim]` to values
        of shape `[num_starts]` (each start's objective depends only on its own row).
      initial_positions: `Tensor` of shape `[num_starts, dim]` (or `[dim]` for one start).
      method: "lbfgs" or "bfgs".
      max_iterations: the most iterations of the search.
      tolerance: stop a start when the sup-norm of its gradient is below this.
      jit_compile: `True` compiles the whole search with XLA; `"objective"`
        compiles the value-and-gradient alone and runs the minimizer's loop
        in graph mode (see the module docstring); `False` compiles nothing.

    Returns:
      TFP's own results namedtuple (`LBfgsOptimizerResults` or
      `BfgsOptimizerResults`): `position` `[num_starts, dim]`,
      `objective_value` `[num_starts]`, `converged` and `failed`
      `[num_starts]`, and `num_iterations` and `num_objective_evaluations`,
      which TFP counts for the batch as a whole.

    Raises:
      ArgumentError: for an unknown `method` or `jit_compile`.

    Examples:
      >>> import tensorflow as tf
      >>> bowl = lambda x: tf.reduce_sum([2., 3.] * (x - 1.) ** 2, axis=-1)
      >>> result = minimize(bowl, tf.constant([[0.6, 0.8], [-3., 5.]]))
      >>> result.converged.numpy(), result.position.numpy().round(4)
      (array([ True,  True]), array([[1., 1.], [1., 1.]], dtype=float32))
    """
    _types.check_callable(value_fn, "value_fn", "pass a function of positions [num_starts, dim] -> values [num_starts].")
    _types.check_literal(method, Method, "method")
    max_iterations = _types.check_int(max_iterations, "max_iterations", 1, 1000)
    tolerance = _types.check_positive_float(tolerance, "tolerance", "1e-8")
    jit_compile = _check_jit_compile(jit_compile)
    x0 = _initial_positions(initial_positions)

    def run(x0):
        return _search(value_fn, x0, method, max_iterations, tolerance, jit_objective=jit_compile == "objective")

    return _search_function(run, jit_compile)(x0)


def _initial_positions(value: Any) -> tf.Tensor:
    """`initial_positions` as a float `Tensor` of shape `[num_starts, dim]` or `[dim]`, finite, else raise."""
    fix = "pass initial positions as a float array of shape [num_starts, dim] (or [dim] for one start)."
    try:
        x0 = tf.convert_to_tensor(value, dtype_hint=tf.float32)
    except (TypeError, ValueError) as e:
        raise _errors.ArgumentError(argument="initial_positions", expected="a float array", found=_errors.describe(value),
                                    fix=fix) from e
    if not x0.dtype.is_floating or x0.shape.rank not in (1, 2) or x0.shape.num_elements() == 0:
        raise _errors.ArgumentError(argument="initial_positions", expected="a non-empty float array of rank 1 or 2",
                                    found=f"{x0.dtype.name} of shape {_types.shape_str(x0.shape)}", fix=fix)
    if not np.all(np.isfinite(x0.numpy())):
        raise _errors.ArgumentError(argument="initial_positions", expected="finite values", found="NaN or inf", fix=fix)
    return x0


def _search(
    value_fn: Callable[[tf.Tensor], tf.Tensor],
    x0: tf.Tensor,
    method: Method,
    max_iterations: Any,
    tolerance: Any,
    jit_objective: bool = False,
):
    """TFP's (L-)BFGS from the starts `x0`, to call inside a trace.

    TFP's minimizers call the objective from ten places (the Hager-Zhang line
    search alone from several). Its value-and-gradient is therefore one nested
    `tf.function`, traced once and called from all ten (on a model with
    many nodes, ten traces would take minutes). With `jit_objective` (inside a graph-mode
    trace) XLA compiles that function on its own, once for all ten calls.
    """

    @tf.function(autograph=False, jit_compile=True if jit_objective else None)
    def value_and_gradient(x):
        return tfp.math.value_and_gradient(value_fn, x)

    minimizer = _MINIMIZERS[method]
    return minimizer(value_and_gradient, initial_position=x0, tolerance=tolerance, max_iterations=max_iterations)


# Compiled searches by model signature, method, jacobian and jit_compile: a second call with
# new data of the same shapes, new starts, max_iterations or tolerance compiles nothing.
_CACHE = _signature.LruCache(16)


def _compiled_search(model: Any, target: _target.FlatTarget, settings: Tuple[Any, ...]):
    """The cached compiled search `(x0, data, max_iterations, tolerance) -> results` for this model and `settings`."""
    data, prov, rebuild = _signature.data_arguments(target, log_prob_only=False)
    structure, keepalive = _signature.structure_key(model, target, data, prov)
    method, jacobian, jit_compile = settings

    def run(x0, data, max_iterations, tolerance):
        flat = rebuild(data)

        def objective(x):
            return -flat.log_prob(x, jacobian=jacobian)

        return _search(objective, x0, method, max_iterations, tolerance, jit_objective=jit_compile == "objective")

    def make():
        return keepalive, _search_function(run, jit_compile)

    return _CACHE.get((structure, settings), make)[1], data


def _array_text(value: np.ndarray) -> str:
    value = np.asarray(value)
    if value.ndim == 0:
        return f"{float(value):.4g}"
    return np.array2string(value, precision=4, threshold=12, edgeitems=3, separator=", ", max_line_width=10_000).replace("\n", "")


@dataclasses.dataclass(frozen=True, eq=False)
class MapEstimate(_format.Report):
    """The result of `map_estimate`: the best point and what every start found.

    Attributes:
      params: node name -> constrained value `[*event_shape]` at the best start.
      objective_value: the minimized objective at the best start:
        `-log p(params | data)` (up to the normalizing constant; plus the
        log-det-Jacobian term when `jacobian=True`).
      best_start: index of the best start.
      objective_values: per start, the final objective, `[num_starts]`.
      positions: per start, the final unconstrained flat point, `[num_starts, dim]`.
      start_params: node name -> constrained value per start, `[num_starts, *event_shape]`.
      converged, failed: per start, TFP's flags, `[num_starts]`.
      num_iterations, num_objective_evaluations: TFP's counts for the whole
        batch (TFP counts batched searches together).
      method: "lbfgs" or "bfgs".
      jacobian: whether the objective included the log-det-Jacobian.
      seed: the stateless seed of the initial points.
      timings: seconds: `"setup"` (reading the model, the starts),
        `"trace_compile"` (one evaluation when the search was cached), `"search"`, `"total"`.
      jit_compile: how the search was compiled: `True` (all of it by XLA),
        `"objective"` (the value-and-gradient by XLA, the loop in graph mode)
        or `False` (graph mode).
    """

    params: Mapping[str, np.ndarray]
    objective_value: float
    best_start: int
    objective_values: np.ndarray
    positions: np.ndarray
    start_params: Mapping[str, np.ndarray]
    converged: np.ndarray
    failed: np.ndarray
    num_iterations: int
    num_objective_evaluations: int
    method: str
    jacobian: bool
    seed: Tuple[int, int]
    timings: Mapping[str, float] = dataclasses.field(default_factory=dict)
    jit_compile: JitCompile = True

    def __post_init__(self):
        n = self.objective_values.shape[0]
        for field in ("converged", "failed", "positions"):
            if getattr(self, field).shape[0] != n:
                raise ValueError(f"MapEstimate.{field} must have num_starts = {n} rows.")
        if not 0 <= self.best_start < n:
            raise ValueError(f"MapEstimate.best_start {self.best_start} is not in [0, {n}).")
        _check_jit_compile(self.jit_compile)

    @property
    def num_starts(self) -> int:
        return int(self.objective_values.shape[0])

    @property
    def log_prob(self) -> float:
        """The (unnormalized) log density at the best point: `-objective_value`."""
        return -self.objective_value

    def _tables(self):
        nodes = _format.Table(
            ("node", "shape", "value"),
            tuple((k, _types.shape_str(np.shape(v)), _array_text(v)) for k, v in self.params.items()),
        )
        order = np.argsort(np.where(np.isnan(self.objective_values), np.inf, self.objective_values))
        starts = _format.Table(
            ("start", "objective", "converged", "failed"),
            tuple(
                (str(i) + (" (best)" if i == self.best_start else ""), f"{self.objective_values[i]:.6g}", str(bool(self.converged[i])), str(bool(self.failed[i])))
                for i in order
            ),
        )
        return [nodes, starts]

    def _title(self) -> str:
        return f"MAP estimate ({self.method}, {self.num_starts} starts)"

    def _notes(self):
        space = "unconstrained density (with log-det-Jacobian)" if self.jacobian else "constrained density (no Jacobian)"
        notes = [
            f"Objective: -log p of the {space}; best {self.objective_value:.6g} at start {self.best_start}.",
            f"Converged: {int(self.converged.sum())} of {self.num_starts}; failed: {int(self.failed.sum())}; "
            f"{self.num_iterations} iterations, {self.num_objective_evaluations} evaluations (whole batch).",
        ]
        if not self.converged[self.best_start]:
            notes.append("Warning: the best start did not converge; raise max_iterations.")
        if self.timings:
            compiled = _COMPILED[self.jit_compile]
            notes.append(f"Timings ({compiled}): " + ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items()))
        return notes

    def _parts(self):
        return self._title(), self._tables(), self._notes()

    def __repr__(self) -> str:
        """A few lines: the method, the starts, the best objective and each node's value, abbreviated."""
        values = "; ".join(f"{k} {_array_text(v)}" for k, v in list(self.params.items())[:6])
        more = f"; ... ({len(self.params)} nodes)" if len(self.params) > 6 else ""
        if len(values) > 200:
            values = values[:197] + "..."
        return (f"<MapEstimate {self.method}: {int(self.converged.sum())} of {self.num_starts} starts converged, "
                f"best objective {self.objective_value:.6g} at start {self.best_start}\n  {values}{more}>")


def map_estimate(
    model: Any,
    observed: Optional[Mapping[str, Any]] = None,
    *,
    initial_state: Any = None,
    bijector: Any = None,
    init: Any = None,
    num_starts: int = 10,
    method: Method = "lbfgs",
    seed: _types.Seed = 0,
    max_iterations: int = 1000,
    tolerance: float = 1e-6,
    jacobian: bool = False,
    jit_compile: JitCompile = True,
    progress: bool = True,
) -> MapEstimate:
    """Find the posterior mode from `num_starts` random starts, searched as one batch.

    Args:
      model: any tfjoint model input (list, dict, generator, `tfd.JointDistribution*`),
        a log-density function with `initial_state`, or an object with the
        target protocol (see `tfjoint.infer.nuts`).
      observed: node name -> data of shape `batch_shape + event_shape`.
      initial_state, bijector: for a log-density function (see `tfjoint.infer.nuts`).
      init: where the starts are (see `tfjoint.infer.nuts`); by default drawn
        uniform(-2, 2) in unconstrained space (a function's `initial_state`,
        jittered).
      num_starts: number of initial points.
      method: "lbfgs" (`tfp.optimizer.lbfgs_minimize`) or "bfgs".
      seed: stateless seed for the initial points.
      max_iterations: the most iterations of the search.
      tolerance: gradient sup-norm at which a start counts as converged.
      jacobian: False (default): the mode of the constrained posterior density
        (true MAP). True: the mode in unconstrained space (adds the
        log-det-Jacobian). See the module docstring.
      jit_compile: `True` compiles the whole search with XLA (fastest
        search); `"objective"` compiles the value-and-gradient alone and runs
        the minimizer's loop in graph mode (fastest first call on a model
        with many nodes; see the module docstring); `False` compiles nothing.
      progress: show progress between the compiled pieces (tracing and
        compiling, then the search, each with its elapsed time, then how
        many starts converged); `False` shows nothing.

    Returns:
      A `MapEstimate`.

    Raises:
      ArgumentError: for an unknown `method` or `jit_compile`, `num_starts < 1`,
        `max_iterations < 1` or `tolerance <= 0`.
      ObservedError: for observed data that does not fit the model.
      NonFiniteLogProbError: if no start has a finite log-density.
      XlaCompileError: if XLA cannot compile the model (pass `jit_compile=False`).

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> model = dict(mu=tfd.Normal(0., 1.), y=lambda mu: tfd.Normal(mu, 1.))
      >>> fit = map_estimate(model, observed={"y": 2.0}, num_starts=4)
      >>> round(float(fit.params["mu"]), 4), bool(fit.converged.all())
      (1.0, True)
    """
    _types.check_literal(method, Method, "method")
    num_starts = _types.check_int(num_starts, "num_starts", 1, 10)
    max_iterations = _types.check_int(max_iterations, "max_iterations", 1, 1000)
    tolerance = _types.check_positive_float(tolerance, "tolerance", "1e-6")
    jacobian = _types.check_bool(jacobian, "jacobian")
    jit_compile = _check_jit_compile(jit_compile)
    report = _progress.Progress("map_estimate", enabled=_types.check_bool(progress, "progress"))
    clock = _progress.Stopwatch()
    seed_tensor = _types.as_seed(seed)
    # An AutoBatched model's starts are evaluated by broadcasting when its ops allow it (checked here).
    check_seed = tfp.random.split_seed(seed_tensor, 2)[1]
    init = _init.check_init(init)
    target = _signature.for_batch(model, _function.resolve(model, observed, initial_state, bijector), num_starts, check_seed)
    x0 = _init.initial_points(target, init, num_starts, seed_tensor, example=initial_state if target.spec is None else None)
    search, data = _compiled_search(model, target, (method, bool(jacobian), jit_compile))
    tolerance_tensor = tf.constant(tolerance, target.dtype)
    setup_seconds = clock()
    with _jit.naming_xla_errors("map_estimate's search", _NO_XLA_FIX, enabled=bool(jit_compile)):
        # Zero iterations first: trace and compile (nothing, if cached), so the search is timed alone.
        with report.phase("tracing and compiling", "traced and compiled"):
            search(x0, data, tf.constant(0, tf.int32), tolerance_tensor).objective_value.numpy()
        compile_seconds = clock() - setup_seconds
        with report.phase("searching", "searched", f"{method}, {num_starts} starts"):
            result = search(x0, data, tf.constant(max_iterations, tf.int32), tolerance_tensor)
            values = result.objective_value.numpy()
    search_seconds = clock() - setup_seconds - compile_seconds
    report.message(f"{int(np.sum(result.converged.numpy()))} of {num_starts} starts converged")
    positions = result.position.numpy()
    ranked = np.where(np.isfinite(values) & ~result.failed.numpy(), values, np.inf)
    if not np.isfinite(ranked).any():
        ranked = np.where(np.isfinite(values), values, np.inf)
    best = int(np.argmin(ranked))
    start_params = {k: np.asarray(v) for k, v in target.constrain(result.position).items()}
    return MapEstimate(
        params={k: v[best] for k, v in start_params.items()},
        objective_value=float(values[best]),
        best_start=best,
        objective_values=values,
        positions=positions,
        start_params=start_params,
        converged=result.converged.numpy(),
        failed=result.failed.numpy(),
        num_iterations=int(result.num_iterations.numpy()),
        num_objective_evaluations=int(result.num_objective_evaluations.numpy()),
        method=method,
        jacobian=bool(jacobian),
        seed=(int(seed_tensor[0]), int(seed_tensor[1])),  # as_seed gives shape [2]
        timings=dict(setup=setup_seconds, trace_compile=compile_seconds, search=search_seconds, total=clock()),
        jit_compile=jit_compile,
    )
