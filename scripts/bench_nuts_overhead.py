"""Benchmark: what a NUTS leapfrog step costs beyond the bare value-and-gradient, and why.

On a cheap model the cost per leapfrog step is not only the model's
value-and-gradient. On the vectorized stochastic-volatility model (100
steps, `--chains` chains, default 4, XLA, float32), whose bare
value-and-gradient is ~15 us, four parts:

1. **tfjoint's `nuts`**, with `kernel="tfjoint"` (tfjoint's
   `FlatNoUTurnSampler`, the default under XLA) and `kernel="tfp"` (TFP's
   `NoUTurnSampler`), split into a fixed cost per iteration (momentum draw,
   tree setup, adaptation bookkeeping, draw buffers) and a cost per leapfrog
   step. With no warmup and a tiny step size every tree reaches
   `max_tree_depth`, so an iteration runs exactly `2**depth - 1` leapfrog
   steps; timing depths 1..8 and fitting
   `us per iteration = fixed + per_leapfrog * leapfrogs` gives both.
2. **The kernels alone** in a compiled loop on the same flat target, per
   leapfrog step (the slope between depths 4 and 8; their intercepts are too
   noisy to read as a fixed cost):
   - the bare value-and-gradient (as `bench_compile.py` measures it);
   - a loop of plain leapfrog steps (no tree);
   - tfjoint's `FlatNoUTurnSampler`
     (`tfjoint/infer/mcmc/nuts_kernel.py`), which runs each doubling as a
     tight loop of leapfrog steps that only records them, and builds the
     subtree (U-turn checks, divergence, proposal) after the loop,
     vectorized over its leaves;
   - TFP's `NoUTurnSampler`, on the target and on the target rescaled as
     tfjoint's program rescales it for TFP's kernel (`log_prob(scale * z)`);
   - TFP's kernel with `unrolled_leapfrog_steps=2`: each leaf of the tree is
     two leapfrog steps, so the tree's bookkeeping is paid once per two.

   Next to each loop's time is its number of "thunks": the operations XLA
   dispatches, one after another, per leapfrog step (counted in the
   optimized HLO). At 4 chains the tensors are so small that this count, not
   the arithmetic, sets the time; `--chains=64` shows how the ratios change
   when it does not.
3. **Whole runs** with tfjoint's defaults (1000 warmup + 1000 draws),
   `--seeds` seeds, with `kernel="tfjoint"` and `kernel="tfp"`: us per
   leapfrog step over warmup and sampling, leapfrog steps per iteration, and
   min ESS/s.
4. **Thunks of tfjoint's compiled chunk**, which no machine noise moves: the
   operations XLA dispatches per iteration, per doubling, per leapfrog step
   and per subtree branch, counted in the optimized HLO of the chunk `nuts`
   compiles, and what they add up to for a tree of each depth, against a
   plain leapfrog loop's per step.

Variants are interleaved within each of `--repeats` rounds; the best round
counts. `--model=iris` runs the same on the Iris multinomial regression (as
cheap per evaluation, but 15 numbers per chain instead of 103).

Usage:
  .venv/bin/python scripts/bench_nuts_overhead.py [--model=sv_vectorized|iris] [--num_results=300]
      [--repeats=3] [--seeds=3] [--chains=4] [--parts=1234]

`--parts=2` runs part 2 alone (about two minutes at 4 chains), `--parts=4`
part 4 alone (under a minute). `--quick` cuts every part: 50 iterations per
timed loop, one round, depths 4 and 8 in part 1, tfjoint's and TFP's plain
kernels only in part 2, one seed of 200 + 200 in part 3.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import re  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
from _bench_common import build_model, machine, posterior_ess, time_loop  # noqa: E402  (this directory)
from absl import app, flags  # noqa: E402

from tfjoint import infer  # noqa: E402
from tfjoint._base import types as _types  # noqa: E402
from tfjoint.infer.mcmc import nuts_kernel as _nuts_kernel  # noqa: E402
from tfjoint.infer.run import program as _program  # noqa: E402
from tfjoint.infer.target import flat as _target  # noqa: E402
from tfjoint.infer.target import signature as _signature  # noqa: E402

_NUM_RESULTS = flags.DEFINE_integer("num_results", 300, "Iterations per timed loop or run (parts 1 and 2).")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Interleaved rounds (parts 1 and 2); the best counts.")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds of whole runs (part 3).")
_MODEL = flags.DEFINE_enum("model", "sv_vectorized", ["sv_vectorized", "iris", "sv_per_step", "lgcp"], "The model.")
_CHAINS = flags.DEFINE_integer("chains", 4, "Chains.")
_PARTS = flags.DEFINE_string("parts", "1234", "Which of the four parts to run, e.g. 24.")
_QUICK = flags.DEFINE_boolean(
    "quick", False, "50 iterations, 1 round, depths 4 and 8, two kernels in part 2, one seed of 200 + 200."
)

DEPTHS = (1, 2, 3, 4, 5, 7, 8)
KERNEL_DEPTHS = (4, 8)  # 15 and 255 leapfrog steps: a long lever for the slope
STEP_SIZE = 1e-4  # every tree reaches max_tree_depth
KERNELS = {
    "tfjoint FlatNoUTurnSampler": lambda fn, eps, depth: _nuts_kernel.FlatNoUTurnSampler(
        fn, eps, max_tree_depth=depth
    ),
    "TFP NoUTurnSampler": lambda fn, eps, depth: tfp.mcmc.NoUTurnSampler(fn, eps, max_tree_depth=depth),
    # tfjoint's program runs TFP's kernel on the reparametrised target: log_prob(scale * z).
    "TFP, target rescaled": lambda fn, eps, depth: tfp.mcmc.NoUTurnSampler(fn, eps, max_tree_depth=depth),
    "TFP, 2 leapfrogs per leaf": lambda fn, eps, depth: tfp.mcmc.NoUTurnSampler(
        fn, eps, max_tree_depth=depth, unrolled_leapfrog_steps=2
    ),
}
LEAPFROGS_PER_LEAF = {"TFP, 2 leapfrogs per leaf": 2}
QUICK_KERNELS = ("tfjoint FlatNoUTurnSampler", "TFP NoUTurnSampler")
NUTS_KERNELS = ("tfjoint", "tfp")  # `nuts(..., kernel=...)` in parts 1 and 3


_FREE_HLO_OPS = frozenset(["parameter", "constant", "get-tuple-element", "tuple", "bitcast"])


def _hlo_bodies(hlo):
    """`{computation name: [(op, rest of line), ...]}` of an optimized HLO module's text."""
    bodies, current = {}, None
    for line in hlo.splitlines():
        if not line.startswith(" ") and line.rstrip().endswith("{"):
            current = re.match(r"^(?:ENTRY )?%?([\w.\-]+) ", line).group(1)
            bodies[current] = []
        elif line.startswith("}"):
            current = None
        elif current is not None:
            m = re.match(r"\s*(?:ROOT )?%?[\w.\-]+ = .*? ([a-z][\w\-]*)\((.*)", line)
            if m:
                bodies[current].append((m.group(1), m.group(2)))
    return bodies


def _thunks(ops):
    return sum(o not in _FREE_HLO_OPS for o, _ in ops)


def _chunk_thunks(jd, observed, chains):
    """Thunks of tfjoint's compiled NUTS chunk: per iteration, per doubling, per leapfrog step, per branch.

    The chunk is the one `nuts` compiles under XLA (`jit_compile=True`, its
    default kernel); its while loops nest as iterations > doublings > leapfrog
    steps, and each doubling runs one `switch_case` branch (the subtree,
    `_nuts_kernel.build_subtree`) per capacity. A loop's count includes its
    condition but not the branches of a conditional in its body: the
    doubling's subtree branches are listed apart.
    """
    calls = []
    compile_chunk = _program.Program.compile_chunk

    def spy(program, state, *args):
        calls.append((program, state, args))
        return compile_chunk(program, state, *args)

    _program.Program.compile_chunk = spy
    _program.CACHE.clear()
    try:
        infer.nuts(
            jd, observed=observed, num_chains=chains, num_warmup=1, num_results=1, seed=0, progress=False,
            warn=False, jit_compile=True,
        )
    finally:
        _program.Program.compile_chunk = compile_chunk
        _program.CACHE.clear()
    program, state, args = calls[0]
    hlo = program.chunk.experimental_get_compiler_ir(state, tf.constant(0, tf.int32), *args)(stage="optimized_hlo")
    bodies = _hlo_bodies(hlo)

    def loops(name):
        """The `(body thunks + condition thunks, body name)` of each while loop in `name`, outermost first."""
        for op, rest in bodies[name]:
            if op == "while":
                body = re.search(r"body=%?([\w.\-]+)", rest).group(1)
                condition = re.search(r"condition=%?([\w.\-]+)", rest).group(1)
                yield _thunks(bodies[body]) + _thunks(bodies[condition]), body

    entry = re.search(r"^ENTRY %?([\w.\-]+) ", hlo, re.M).group(1)
    (iteration, iteration_body), = loops(entry)
    (doubling, doubling_body), = loops(iteration_body)
    (step, _), = loops(doubling_body)
    branches = []
    for op, rest in bodies[doubling_body]:
        if op == "conditional":
            names = re.search(r"branch_computations=\{([^}]*)\}", rest).group(1)
            branches = [_thunks(bodies[b.strip().lstrip("%")]) for b in names.split(",")]
    return iteration, doubling, step, branches


def _thunk_model(iteration, doubling, step, branches, depth, max_tree_depth=10):
    """Thunks of one iteration whose tree has `depth` doublings (`2**depth - 1` leapfrog steps)."""
    capacities = sorted({_nuts_kernel.capacity_depth(d, max_tree_depth) for d in range(max_tree_depth)})
    subtrees = sum(branches[capacities.index(_nuts_kernel.capacity_depth(d, max_tree_depth))] for d in range(depth))
    return iteration + depth * doubling + subtrees + (2**depth - 1) * step


def _thunks_per_step(loop, *args, with_condition=False):
    """Operations XLA runs per leapfrog step: those of the innermost while body that evaluates the gradient.

    Counted in the optimized HLO: every instruction of that body except
    parameters, constants, tuples and bitcasts, which cost nothing at run
    time. On the CPU each one is a separately dispatched kernel (a "thunk"),
    so for tensors this small their number, not their arithmetic, sets the
    time. TFP's kernel also runs a small U-turn while loop per step, not
    counted here. `with_condition` adds the loop condition's operations.
    """
    hlo = loop.experimental_get_compiler_ir(*args)(stage="optimized_hlo")
    bodies = _hlo_bodies(hlo)

    def steps(name, depth):
        """(nesting depth, thunks) of every while body under `name` that takes a gradient."""
        for op, rest in bodies[name]:
            if op == "while":
                body = re.search(r"body=%?([\w.\-]+)", rest).group(1)
                condition = re.search(r"condition=%?([\w.\-]+)", rest).group(1)
                if any("gradient" in r for _, r in bodies[body]):
                    yield depth + 1, _thunks(bodies[body]) + (_thunks(bodies[condition]) if with_condition else 0)
                yield from steps(body, depth + 1)

    entry = re.search(r"^ENTRY %?([\w.\-]+) ", hlo, re.M).group(1)
    return max(steps(entry, 0))[1]


def _fit(leapfrogs, us_per_iteration):
    slope, intercept = np.polyfit(leapfrogs, us_per_iteration, 1)
    return intercept, slope


def _best_seconds(fn, *args):
    fn(*args).numpy()  # compile
    times = []
    for _ in range(3):
        t = time.perf_counter()
        fn(*args).numpy()
        times.append(time.perf_counter() - t)
    return min(times)


def _kernel_loop(make, rebuild, num_iterations, depth, rescaled=False):
    """A compiled loop of `num_iterations` kernel transitions at a fixed tree depth."""

    @tf.function(jit_compile=True, autograph=False)
    def run(x, data, scale):
        flat = rebuild(data)
        log_prob = (lambda z: flat.log_prob(z * scale)) if rescaled else flat.log_prob
        kernel = make(log_prob, tf.constant(STEP_SIZE, x.dtype), depth)
        results = kernel.bootstrap_results(x)

        def body(i, z, results, acc):
            z, results = kernel.one_step(z, results, seed=tf.stack([i, 7]))
            return i + 1, z, results, acc + tf.reduce_sum(results.target_log_prob)

        return tf.while_loop(lambda i, *_: i < num_iterations, body, (0, x, results, tf.constant(0.0, x.dtype)))[3]

    return run


def _leapfrog_loop(rebuild, num_steps):
    """A compiled loop of plain leapfrog steps: the value-and-gradient plus the two momentum half-steps."""

    @tf.function(jit_compile=True, autograph=False)
    def run(x, data):
        flat = rebuild(data)
        eps = tf.constant(STEP_SIZE, x.dtype)
        _, g = tfp.math.value_and_gradient(flat.log_prob, x)

        def body(i, z, r, g, acc):
            r = r + 0.5 * eps * g
            z = z + eps * r
            lp, g = tfp.math.value_and_gradient(flat.log_prob, z)
            return i + 1, z, r + 0.5 * eps * g, g, acc + tf.reduce_sum(lp)

        init = (0, x, tf.zeros_like(x), g, tf.constant(0.0, x.dtype))
        return tf.while_loop(lambda i, *_: i < num_steps, body, init)[4]

    return run


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    parts, chains, n, repeats = _PARTS.value, _CHAINS.value, _NUM_RESULTS.value, _REPEATS.value
    depths, seeds, whole_iterations, kernels = DEPTHS, _SEEDS.value, 1000, KERNELS
    if _QUICK.value:
        n, repeats, depths, seeds, whole_iterations = 50, 1, KERNEL_DEPTHS, 1, 200
        kernels = {name: KERNELS[name] for name in QUICK_KERNELS}
    builder, builder_args, builder_kwargs, observed = build_model(_MODEL.value)
    jd = builder(*builder_args, **builder_kwargs)
    target = _target.make_target(jd, observed).for_batch(chains, 0)
    data, _, rebuild = _signature.data_arguments(target)
    x0 = target.initial_state(chains, _types.as_seed(0))
    loops = {
        (name, d): _kernel_loop(make, rebuild, n, d, rescaled="rescaled" in name)
        for name, make in kernels.items()
        for d in KERNEL_DEPTHS
    }
    scale = tf.ones(x0.shape[-1:], x0.dtype)  # an argument, so XLA cannot fold the multiply away
    leapfrog_steps = 20 * n
    leapfrog = _leapfrog_loop(rebuild, leapfrog_steps)

    def bare(x, flat):
        return tfp.math.value_and_gradient(flat.log_prob, x)

    best = {}

    def keep(key, value):
        best[key] = min(best.get(key, float("inf")), value)

    tfjoint_leapfrogs = {}
    for r in range(repeats):
        if "1" in parts:
            for depth in depths:
                for kernel in NUTS_KERNELS:
                    post = infer.nuts(
                        jd, observed=observed, num_chains=chains, num_warmup=0, num_results=n, seed=r,
                        step_size=STEP_SIZE, max_tree_depth=depth, jit_compile=True, progress=False, warn=False,
                        kernel=kernel,
                    )
                    keep(("tfjoint nuts", kernel, depth), 1e6 * post.timings["sampling"] / n)
                    tfjoint_leapfrogs[kernel, depth] = post.settings["leapfrog_steps"] / n
        keep("bare", time_loop(bare, x0, data, leapfrog_steps, True, prepare=rebuild)[0])
        if "2" in parts:
            keep("leapfrog", 1e6 * _best_seconds(leapfrog, x0, data) / leapfrog_steps)
            for key, loop in loops.items():
                keep(key, 1e6 * _best_seconds(loop, x0, data, scale) / n)

    whole = {kernel: [] for kernel in NUTS_KERNELS} if "3" in parts else {}
    for seed in range(seeds):
        for kernel, runs in whole.items():
            post = infer.nuts(
                jd, observed=observed, num_chains=chains, num_warmup=whole_iterations, num_results=whole_iterations, seed=seed,
                progress=False, warn=False, kernel=kernel,
            )
            seconds = post.timings["warmup"] + post.timings["sampling"]
            runs.append((seconds, post.settings["leapfrog_steps"], posterior_ess(post)[0]))

    bare_us = best["bare"]
    print(f"{machine()}; {_MODEL.value}, {chains} chains, XLA, {n} iterations, best of {repeats}; "
          f"bare value-and-gradient {bare_us:.1f} us")
    if "1" in parts:
        for kernel in NUTS_KERNELS:
            print(f"\n1. tfjoint's nuts, kernel={kernel!r}, every tree at max_tree_depth")
            print(f"{'depth':>5} {'lf/iter':>8} {'us/iter':>9} {'us/lf':>7}")
            for depth in depths:
                us, lf = best[("tfjoint nuts", kernel, depth)], tfjoint_leapfrogs[kernel, depth]
                print(f"{depth:>5} {lf:>8.0f} {us:>9.0f} {us / lf:>7.1f}")
            fixed, per_step = _fit(
                [tfjoint_leapfrogs[kernel, d] for d in depths], [best[("tfjoint nuts", kernel, d)] for d in depths]
            )
            print(f"fit: {fixed:.0f} us per iteration + {per_step:.1f} us per leapfrog step")

    if "2" in parts:
        print(f"\n2. per leapfrog step, kernels alone (fit over depths {KERNEL_DEPTHS}); thunks: XLA operations "
              "dispatched per step")
        print(f"{'':<30} {'us/lf':>7} {'x bare':>7} {'thunks':>7}")
        print(f"{'bare value-and-gradient':<30} {bare_us:>7.1f} {1.0:>7.2f}")
        thunks = _thunks_per_step(leapfrog, x0, data)
        print(f"{'plain leapfrog loop':<30} {best['leapfrog']:>7.1f} {best['leapfrog'] / bare_us:>7.2f} {thunks:>7}")
        for name in kernels:
            per_leaf = LEAPFROGS_PER_LEAF.get(name, 1)
            _, per_step = _fit([per_leaf * (2**d - 1) for d in KERNEL_DEPTHS], [best[(name, d)] for d in KERNEL_DEPTHS])
            # The count is of one gradient loop body: for two steps per leaf it would leave out the tree.
            thunks = "-" if per_leaf > 1 else _thunks_per_step(loops[(name, KERNEL_DEPTHS[0])], x0, data, scale)
            print(f"{name:<30} {per_step:>7.1f} {per_step / bare_us:>7.2f} {thunks:>7}")
        if "1" in parts:
            for kernel in NUTS_KERNELS:
                _, per_step = _fit(
                    [tfjoint_leapfrogs[kernel, d] for d in KERNEL_DEPTHS],
                    [best[("tfjoint nuts", kernel, d)] for d in KERNEL_DEPTHS],
                )
                print(f"{'tfjoint nuts, kernel=' + repr(kernel):<30} {per_step:>7.1f} {per_step / bare_us:>7.2f}")

    if "4" in parts:
        iteration, doubling, step, branches = _chunk_thunks(jd, observed, chains)
        plain = _thunks_per_step(leapfrog, x0, data, with_condition=True)
        print("\n4. thunks of tfjoint's compiled chunk (its default kernel; loop bodies with their conditions)")
        print(f"per iteration {iteration}, per doubling {doubling}, per leapfrog step {step} "
              f"(plain leapfrog loop {plain}); subtree branches {' '.join(map(str, branches))}")
        print(f"{'depth':>5} {'lf/iter':>8} {'thunks/iter':>12} {'x plain loop':>13}")
        for depth in depths:
            total = _thunk_model(iteration, doubling, step, branches, depth)
            print(f"{depth:>5} {2**depth - 1:>8} {total:>12} {total / (plain * (2**depth - 1)):>13.2f}")

    if whole:
        print(f"\n3. whole runs in tfjoint's nuts ({whole_iterations} + {whole_iterations}, {chains} chains, "
              f"seeds 0..{seeds - 1}): per seed")
        print(f"{'kernel':<26} {'us/lf':>24} {'lf/iter':>20} {'min ESS/s':>20}")
        for kernel, runs in whole.items():
            us = " ".join(f"{1e6 * t / lf:6.1f}" for t, lf, _ in runs)
            per_iter = " ".join(f"{lf / (2 * whole_iterations):6.1f}" for _, lf, _ in runs)
            ess_s = " ".join(f"{e / t:6.0f}" for t, _, e in runs)
            print(f"{'kernel=' + repr(kernel):<26} {us:>24} {per_iter:>20} {ess_s:>20}")


if __name__ == "__main__":
    app.run(main)
