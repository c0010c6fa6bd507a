"""Same seed, same draws: save a reference set of runs, or compare this checkout's runs with one.

A refactor of the samplers must not change a single draw. This script runs
`tfjoint.infer.nuts` (and `hmc`) on the Iris multinomial regression and the
vectorized stochastic-volatility model, under XLA and in TF graph mode, with
fixed seeds, and either saves every draw and sampler statistic to an `.npz`
(`--save`) or compares them bit for bit with a saved file (`--compare`).
Only public API is used, so the same script runs on any commit:

    git worktree add /tmp/base <commit>
    PYTHONPATH=/tmp/base .venv/bin/python scripts/check_identical_draws.py --save=/tmp/base.npz
    .venv/bin/python scripts/check_identical_draws.py --compare=/tmp/base.npz

`--quick` runs the Iris model under XLA only (NUTS and HMC); pass it to both
the `--save` and the `--compare` run. Exit status 0 when every array is
identical, 1 otherwise (the differing arrays are listed).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

_SAVE = flags.DEFINE_string("save", None, "Write the runs' arrays to this .npz file.")
_COMPARE = flags.DEFINE_string("compare", None, "Compare the runs' arrays with this .npz file.")
_QUICK = flags.DEFINE_boolean("quick", False, "Iris under XLA only.")

SETTINGS = dict(num_chains=4, num_warmup=150, num_results=100, chunk_size=40, progress=False)


def _runs(quick):
    import tfjoint
    from tfjoint import infer, models

    features, labels = models.load_iris()
    iris = models.multinomial_logistic_regression.condition(features, observed={"y": labels})
    returns = models.load_stochastic_volatility(100)
    sv = models.stochastic_volatility.condition(returns, form="vectorized", observed={"y": returns})
    print(f"tfjoint from {os.path.dirname(tfjoint.__file__)}")
    for name, model in (("iris", iris),) if quick else (("iris", iris), ("sv_vectorized", sv)):
        for mode, jit in (("xla", True),) if quick else (("xla", True), ("graph", False)):
            post = infer.nuts(model, seed=(1, 2), jit_compile=jit, **SETTINGS)
            yield f"nuts/{name}/{mode}", post
    post = infer.hmc(iris, num_leapfrog_steps=8, seed=(3, 4), jit_compile=True, **SETTINGS)
    yield "hmc/iris/xla", post


def _arrays(quick):
    arrays = {}
    for key, post in _runs(quick):
        for node, value in post.draws.items():
            arrays[f"{key}/draws/{node}"] = np.asarray(value)
        for stat, value in post.sample_stats.items():
            if stat != "step_size":  # a per-draw record on newer commits, a constant before
                arrays[f"{key}/stats/{stat}"] = np.asarray(value)
        arrays[f"{key}/step_size"] = np.asarray(post.settings["step_size"])
        print(f"{key}: {sum(v.size for k, v in arrays.items() if k.startswith(key))} numbers")
    return arrays


def main(argv):
    del argv
    if bool(_SAVE.value) == bool(_COMPARE.value):
        raise app.UsageError("pass exactly one of --save and --compare")
    arrays = _arrays(_QUICK.value)
    if _SAVE.value:
        np.savez(_SAVE.value, **arrays)
        print(f"saved {len(arrays)} arrays to {_SAVE.value}")
        return 0
    with np.load(_COMPARE.value) as saved:
        reference = {k: saved[k] for k in saved.files}
    differ = sorted(k for k in reference if k not in arrays or not np.array_equal(reference[k], arrays[k]))
    missing = sorted(set(arrays) - set(reference))
    for k in differ:
        print(f"DIFFERENT: {k}")
    for k in missing:
        print(f"not in the reference: {k}")
    print(f"{len(reference) - len(differ)} of {len(reference)} arrays identical")
    return 1 if differ else 0


if __name__ == "__main__":
    app.run(main)
