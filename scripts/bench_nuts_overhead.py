"""Benchmark: what one NUTS iteration costs beyond its leapfrog steps (tfjoint's `nuts`).

On a cheap model the cost per leapfrog step is not only the model's
value-and-gradient: each iteration also pays a fixed price (momentum draw,
tree setup, the final selection, tfjoint's adaptation bookkeeping and draw
buffers). This script separates the two. With no warmup and a tiny step size
every tree reaches `max_tree_depth`, so an iteration runs exactly
`2**depth - 1` leapfrog steps; timing depths 1..7 and fitting
`us per iteration = fixed + per_leapfrog * leapfrogs` gives both, next to the
bare value-and-gradient of the same target (as `bench_compile.py` measures it).

Default model: the vectorized stochastic-volatility model (100 steps, 4
chains, XLA), where the bare value-and-gradient is ~16 us. Depths are
interleaved within each of `--repeats` rounds; the best round counts.

Usage:
  .venv/bin/python scripts/bench_nuts_overhead.py [--num_results=300] [--repeats=2]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402  pylint: disable=g-import-not-at-top

from tfjoint import models  # noqa: E402  pylint: disable=g-import-not-at-top
from tfjoint.infer import _nuts  # noqa: E402  pylint: disable=g-import-not-at-top

DEPTHS = (1, 2, 3, 5, 7)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_results", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    returns = models.load_stochastic_volatility(100)
    jd = models.stochastic_volatility(returns, form="vectorized")
    best = {d: float("inf") for d in DEPTHS}
    leapfrogs = {}
    for r in range(args.repeats):
        for depth in DEPTHS:
            post = _nuts.nuts(
                jd, observed={"y": returns}, num_chains=4, num_warmup=0, num_results=args.num_results, seed=r,
                step_size=1e-4, max_tree_depth=depth, jit_compile=True, progress=False,
            )
            best[depth] = min(best[depth], post.timings["sampling"])
            leapfrogs[depth] = post.settings["leapfrog_steps"] / args.num_results
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; vectorized SV, 4 chains, XLA, "
          f"{args.num_results} iterations, best of {args.repeats}")
    print(f"{'depth':>5} {'lf/iter':>8} {'us/iter':>9} {'us/lf':>7}")
    us_iter = {}
    for depth in DEPTHS:
        us_iter[depth] = 1e6 * best[depth] / args.num_results
        print(f"{depth:>5} {leapfrogs[depth]:>8.0f} {us_iter[depth]:>9.0f} {us_iter[depth] / leapfrogs[depth]:>7.1f}")
    slope, intercept = np.polyfit([leapfrogs[d] for d in DEPTHS], [us_iter[d] for d in DEPTHS], 1)
    print(f"fit: {intercept:.0f} us per iteration + {slope:.1f} us per leapfrog step")


if __name__ == "__main__":
    main()
