"""Dense against diagonal metric: min ESS per second and per gradient on a strongly correlated Gaussian.

The target is a 50-dimensional Gaussian whose neighbouring coordinates have
correlation 0.99 (an AR(1) covariance, `rho ** |i - j|`), given to
`tfjoint.infer.nuts` as a plain log-density function. Each round runs both
metrics once, interleaved, with the same settings and seed; the first round
compiles, later rounds reuse the compiled programs. Reported per metric:
the minimum bulk ESS over the 50 coordinates, per second of sampling and
per gradient evaluation (leapfrog steps summed over chains and draws), as
medians over the rounds after the first, and the ratio dense / diag.

    .venv/bin/python scripts/bench_metric.py [--rounds=3] [--dim=50] [--rho=0.99] [--out=FILE.json]
    .venv/bin/python scripts/bench_metric.py --quick    # 2 rounds of 300 warmup + 300 draws
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

_ROUNDS = flags.DEFINE_integer("rounds", 3, "Interleaved rounds (the first compiles).")
_DIM = flags.DEFINE_integer("dim", 50, "Dimension.")
_RHO = flags.DEFINE_float("rho", 0.99, "Correlation between neighbouring coordinates.")
_OUT = flags.DEFINE_string("out", None, "Write the results as JSON here.")
_QUICK = flags.DEFINE_boolean("quick", False, "2 rounds of 300 warmup + 300 draws (overrides --rounds).")

SETTINGS = dict(num_chains=4, num_warmup=1000, num_results=1000, progress=False, warn=False)
QUICK_SETTINGS = dict(SETTINGS, num_warmup=300, num_results=300)


def main(argv):
    del argv
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top

    from tfjoint import infer  # pylint: disable=g-import-not-at-top

    d, rho = _DIM.value, _RHO.value
    settings, num_rounds = (QUICK_SETTINGS, 2) if _QUICK.value else (SETTINGS, _ROUNDS.value)
    cov = np.array([[rho ** abs(i - j) for j in range(d)] for i in range(d)])
    mvn = tfp.distributions.MultivariateNormalTriL(tf.zeros(d, tf.float64), np.linalg.cholesky(cov))
    log_prob = mvn.log_prob
    rows = {"diag": [], "dense": []}
    for r in range(num_rounds):
        for metric in ("diag", "dense"):
            t = time.perf_counter()
            post = infer.nuts(log_prob, initial_state=tf.zeros(d, tf.float64), metric=metric, seed=r, **settings)
            wall = time.perf_counter() - t
            ess = float(infer.ess_bulk(post.draws["x"]).min())
            gradients = int(post.sample_stats["n_steps"].sum())
            rows[metric].append({
                "round": r, "min_ess": ess, "sampling_seconds": post.timings["sampling"], "gradients": gradients,
                "ess_per_second": ess / post.timings["sampling"], "ess_per_gradient": ess / gradients, "wall": wall,
            })
            print(f"round {r} {metric:5s}: min ESS {ess:7.1f}  sampling {post.timings['sampling']:6.1f}s  "
                  f"gradients {gradients:8d}  ESS/s {ess / post.timings['sampling']:8.2f}  ESS/grad {ess / gradients:.5f}")
    summary = {}
    for metric, results in rows.items():
        later = results[1:] or results
        summary[metric] = {k: float(np.median([x[k] for x in later])) for k in ("min_ess", "ess_per_second", "ess_per_gradient")}
    ratios = {k: summary["dense"][k] / summary["diag"][k] for k in ("ess_per_second", "ess_per_gradient")}
    print(f"\nmedians over rounds 2..{num_rounds}: " + json.dumps(summary, indent=1))
    print(f"dense / diag: min ESS per second {ratios['ess_per_second']:.1f}x, per gradient {ratios['ess_per_gradient']:.1f}x")
    if _OUT.value:
        with open(_OUT.value, "w") as f:
            json.dump({"rows": rows, "summary": summary, "ratios": ratios, "dim": d, "rho": rho, "settings": settings,
                       "load_average": os.getloadavg()}, f, indent=1)


if __name__ == "__main__":
    app.run(main)
