"""Benchmark: dense linear algebra under XLA vs TensorFlow graph mode on this machine's CPU.

Why `tfjoint.infer.nuts(..., jit_compile=None)` compiles a model that takes
large Cholesky factors in graph mode instead of XLA (`tfjoint/_compile/policy.py`).

For each op (Cholesky factor; lower-triangular solve against a vector) and
matrix size n, one timed call runs 50 evaluations of the op *and its
gradient* on a batch of 4 float64 matrices (one per chain) in a
`tf.while_loop`, the input nudged by the gradient so nothing is hoisted;
XLA and graph variants alternate, best of 3 calls each. The table gives
microseconds per evaluation and the ratio XLA / graph.

Usage:
  .venv/bin/python scripts/bench_xla_linalg.py [--sizes=4,8,16,32,64,100] [--batch=4]
  .venv/bin/python scripts/bench_xla_linalg.py --quick    # sizes 8, 32, 100
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import time  # noqa: E402

import tensorflow as tf  # noqa: E402
from _bench_common import machine  # noqa: E402  (this directory)
from absl import app, flags  # noqa: E402

EVALUATIONS = 50
_SIZES = flags.DEFINE_list("sizes", ["4", "8", "16", "32", "64", "100"], "Matrix sizes n.")
_BATCH = flags.DEFINE_integer("batch", 4, "Matrices per evaluation (one per chain).")
_QUICK = flags.DEFINE_boolean("quick", False, "Sizes 8, 32 and 100 only (overrides --sizes).")


def objective(op: str, m: tf.Tensor) -> tf.Tensor:
    if op == "cholesky":
        return tf.reduce_sum(tf.math.log(tf.linalg.diag_part(tf.linalg.cholesky(m))))
    rhs = tf.ones(m.shape[:-1] + [1], m.dtype)
    return tf.reduce_sum(tf.linalg.triangular_solve(tf.linalg.band_part(m, -1, 0), rhs))


def make_loop(op: str, jit_compile: bool):
    @tf.function(jit_compile=jit_compile, autograph=False)
    def loop(m):
        def body(i, m, acc):
            with tf.GradientTape() as tape:
                tape.watch(m)
                value = objective(op, m)
            grad = tape.gradient(value, m)
            return i + 1, m + 1e-12 * grad, acc + value

        return tf.while_loop(lambda i, *_: i < EVALUATIONS, body, (0, m, tf.constant(0.0, m.dtype)))[2]

    return loop


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    batch = _BATCH.value
    tf.get_logger().setLevel("ERROR")  # one tf.function per variant: TF's retracing notes are false alarms
    print(f"{machine()}; batch {batch}, float64, value + gradient, us per evaluation (best of 3)")
    print(f"{'op':<16}{'n':>5}{'XLA us':>10}{'graph us':>10}{'XLA/graph':>11}")
    for op in ("cholesky", "triangular_solve"):
        for n in (8, 32, 100) if _QUICK.value else [int(x) for x in _SIZES.value]:
            a = tf.random.stateless_normal([batch, n, n], [1, 2], dtype=tf.float64)
            m = tf.matmul(a, a, transpose_b=True) + n * tf.eye(n, dtype=tf.float64)  # well conditioned
            loops = {mode: make_loop(op, mode == "xla") for mode in ("xla", "graph")}
            for loop in loops.values():
                loop(m).numpy()  # compile
            best = {mode: float("inf") for mode in loops}
            for _ in range(3):
                for mode, loop in loops.items():  # interleaved
                    t = time.perf_counter()
                    loop(m).numpy()
                    best[mode] = min(best[mode], time.perf_counter() - t)
            us = {mode: 1e6 * b / EVALUATIONS for mode, b in best.items()}
            print(f"{op:<16}{n:>5}{us['xla']:>10.0f}{us['graph']:>10.0f}{us['xla'] / us['graph']:>11.1f}", flush=True)


if __name__ == "__main__":
    app.run(main)
