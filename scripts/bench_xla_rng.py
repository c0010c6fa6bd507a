"""Benchmark: TF's stateless random generators under XLA on the CPU, per call of a NUTS-sized draw.

A NUTS iteration draws one momentum per chain, `[num_chains, dim]` standard
normals. TFP's `NoUTurnSampler` draws it with `tf.random.stateless_normal`
and TF's default generator ("auto_select"); tfjoint's `FlatNoUTurnSampler`
takes the generator `_nuts_kernel.rng_for` picks. This times one draw inside
an XLA-compiled `tf.while_loop` (the seed changes per iteration, and the draw
feeds the loop state, so nothing is hoisted), for each generator, interleaved,
best of `--repeats` rounds, and prints each as a ratio to the fastest of its
dtype. float64 Threefry is left out: XLA took minutes to compile it inside
a NUTS kernel (session 6), which is why `rng_for` picks Philox for float64.

Usage:
  .venv/bin/python scripts/bench_xla_rng.py [--shape=4,103] [--iterations=2000] [--repeats=5]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402  pylint: disable=g-import-not-at-top

ALGS = ("auto_select", "philox", "threefry")


def _loop(shape, dtype, alg, iterations):
    @tf.function(jit_compile=True, autograph=False)
    def run(x):
        def body(i, x):
            return i + 1, x + tf.random.stateless_normal(shape, tf.stack([i, 3]), dtype=dtype, alg=alg)

        return tf.while_loop(lambda i, x: i < iterations, body, (0, x))[1]

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="4,103")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    shape = [int(d) for d in args.shape.split(",")]
    best = {}
    loops = {}
    for dtype in (tf.float32, tf.float64):
        for alg in ALGS if dtype == tf.float32 else ALGS[:2]:
            loop = _loop(shape, dtype, alg, args.iterations)
            x = tf.zeros(shape, dtype)
            t = time.perf_counter()
            loop(x).numpy()
            loops[dtype.name, alg] = (loop, x, time.perf_counter() - t)
    for _ in range(args.repeats):
        for key, (loop, x, _) in loops.items():
            t = time.perf_counter()
            loop(x).numpy()
            best[key] = min(best.get(key, float("inf")), time.perf_counter() - t)
    print(f"{os.cpu_count()} CPUs; one stateless_normal of shape {shape} per iteration, XLA on the CPU, "
          f"best of {args.repeats} interleaved rounds of {args.iterations} iterations")
    print(f"{'dtype':<8} {'alg':<12} {'us/draw':>8} {'x fastest':>10} {'compile s':>10}")
    for (dtype, alg), seconds in best.items():
        us = 1e6 * seconds / args.iterations
        ratio = seconds / min(v for (d, _), v in best.items() if d == dtype)
        print(f"{dtype:<8} {alg:<12} {us:>8.2f} {ratio:>10.1f} {loops[dtype, alg][2]:>10.1f}")


if __name__ == "__main__":
    main()
