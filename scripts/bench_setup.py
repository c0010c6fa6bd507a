"""Setup time of `nuts` before tracing: the 103-node per-step stochastic-volatility model, in fresh processes.

`Posterior.timings["setup"]` is everything `nuts` does before it traces and
compiles: reading and pinning the model, laying out the flat target,
checking that it broadcasts over chains, drawing initial points. This
script runs one `nuts` call (4 chains, 10 + 10 iterations, graph mode) per
fresh process, on this checkout and, with `--base=DIR`, on another checkout
of tfjoint (e.g. a `git worktree` of an older commit), interleaved, and
reports the median setup seconds of each.

    git worktree add /tmp/base <commit>
    .venv/bin/python scripts/bench_setup.py --rounds=3 --base=/tmp/base [--out=FILE.json]
    .venv/bin/python scripts/bench_setup.py --quick    # one round: one fresh process per checkout
"""

import json
import os
import subprocess
import sys

import numpy as np
from absl import app, flags

_ROUNDS = flags.DEFINE_integer("rounds", 3, "Fresh processes per checkout.")
_BASE = flags.DEFINE_string("base", None, "Another tfjoint checkout to compare with.")
_OUT = flags.DEFINE_string("out", None, "Write the results as JSON here.")
_QUICK = flags.DEFINE_boolean("quick", False, "One round (overrides --rounds).")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs in the child. `root` is put first on the path, and an editable install's finder is dropped,
# so the child imports that checkout's tfjoint.
CHILD = """
import sys, json
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, {root!r})
from tfjoint import infer, models
returns = models.load_stochastic_volatility(100)
model = models.stochastic_volatility.condition(returns, form="per_step", observed={{"y": returns}})
post = infer.nuts(model, num_chains=4, num_warmup=10, num_results=10, seed=0, jit_compile=False, progress=False)
print("RESULT " + json.dumps({{"setup": post.timings["setup"], "trace_compile": post.timings["trace_compile"]}}))
"""


def _run(root):
    # trace_compile is measured: no XLA programs from an earlier run (tfjoint's persistent cache).
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.setdefault("TFJOINT_CACHE_DIR", "")
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=root)], capture_output=True, text=True, env=env,
                         timeout=1800)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(lines[-1][len("RESULT "):])


def main(argv):
    del argv
    checkouts = {"this": ROOT}
    if _BASE.value:
        checkouts["base"] = os.path.abspath(_BASE.value)
    results = {k: [] for k in checkouts}
    for r in range(1 if _QUICK.value else _ROUNDS.value):
        for name, root in checkouts.items():
            res = _run(root)
            results[name].append(res)
            print(f"round {r} {name:4s}: setup {res['setup']:6.2f}s  trace+compile {res['trace_compile']:6.2f}s", flush=True)
    summary = {k: {m: float(np.median([x[m] for x in v])) for m in ("setup", "trace_compile")} for k, v in results.items()}
    print(json.dumps(summary, indent=1))
    if _OUT.value:
        with open(_OUT.value, "w") as f:
            json.dump({"results": results, "summary": summary, "load_average": os.getloadavg()}, f, indent=1)


if __name__ == "__main__":
    app.run(main)
