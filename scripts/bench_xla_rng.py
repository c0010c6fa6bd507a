"""Benchmark: TF's stateless random generators under XLA on the CPU, per call of a NUTS-sized draw.

A NUTS iteration draws one momentum per chain, `[num_chains, dim]` standard
normals. TFP's `NoUTurnSampler` draws it with `tf.random.stateless_normal`
and TF's default generator ("auto_select"); tfjoint's `FlatNoUTurnSampler`
takes the generator `tfjoint.infer.mcmc.nuts_kernel.rng_for` picks. This times one draw inside
an XLA-compiled `tf.while_loop` (the seed changes per iteration, and the draw
feeds the loop state, so nothing is hoisted), for each generator, interleaved,
best of `--repeats` rounds, and prints each as a ratio to the fastest of its
dtype. float64 Threefry is left out: XLA took minutes to compile it inside
a NUTS kernel, which is why `rng_for` picks Philox for float64.

Usage:
  .venv/bin/python scripts/bench_xla_rng.py [--shape=4,103] [--iterations=2000] [--repeats=5]
  .venv/bin/python scripts/bench_xla_rng.py --quick    # 500 iterations, 3 rounds
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import time  # noqa: E402

import tensorflow as tf  # noqa: E402
from _bench_common import machine  # noqa: E402  (this directory)
from absl import app, flags  # noqa: E402

ALGS = ("auto_select", "philox", "threefry")
_SHAPE = flags.DEFINE_list("shape", ["4", "103"], "Shape of one draw: [num_chains, dim].")
_ITERATIONS = flags.DEFINE_integer("iterations", 2000, "Draws per timed loop.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Interleaved rounds; the best counts.")
_QUICK = flags.DEFINE_boolean("quick", False, "500 iterations and 3 rounds (overrides --iterations and --repeats).")


def _loop(shape, dtype, alg, iterations):
    @tf.function(jit_compile=True, autograph=False)
    def run(x):
        def body(i, x):
            return i + 1, x + tf.random.stateless_normal(shape, tf.stack([i, 3]), dtype=dtype, alg=alg)

        return tf.while_loop(lambda i, x: i < iterations, body, (0, x))[1]

    return run


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    shape = [int(d) for d in _SHAPE.value]
    iterations, repeats = (500, 3) if _QUICK.value else (_ITERATIONS.value, _REPEATS.value)
    tf.get_logger().setLevel("ERROR")  # one tf.function per variant: TF's retracing notes are false alarms
    best = {}
    loops = {}
    for dtype in (tf.float32, tf.float64):
        for alg in ALGS if dtype == tf.float32 else ALGS[:2]:
            loop = _loop(shape, dtype, alg, iterations)
            x = tf.zeros(shape, dtype)
            t = time.perf_counter()
            loop(x).numpy()
            loops[dtype.name, alg] = (loop, x, time.perf_counter() - t)
    for _ in range(repeats):
        for key, (loop, x, _) in loops.items():
            t = time.perf_counter()
            loop(x).numpy()
            best[key] = min(best.get(key, float("inf")), time.perf_counter() - t)
    print(f"{machine()}; one stateless_normal of shape {shape} per iteration, XLA on the CPU, "
          f"best of {repeats} interleaved rounds of {iterations} iterations")
    print(f"{'dtype':<8} {'alg':<12} {'us/draw':>8} {'x fastest':>10} {'compile s':>10}")
    for (dtype, alg), seconds in best.items():
        us = 1e6 * seconds / iterations
        ratio = seconds / min(v for (d, _), v in best.items() if d == dtype)
        print(f"{dtype:<8} {alg:<12} {us:>8.2f} {ratio:>10.1f} {loops[dtype, alg][2]:>10.1f}")


if __name__ == "__main__":
    app.run(main)
