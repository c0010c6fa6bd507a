"""Build the teaching notebooks in `colabs/` from the cell lists in this file.

The notebooks are generated, not edited by hand: each one is a list of
markdown and code cells below, so a change to a notebook is a reviewable diff
of Python source, and every notebook can be regenerated. They are written
without outputs (outputs are stripped in git); `tests/test_notebooks.py`
executes them and checks that the committed files equal what this script
writes.

Every notebook starts with the same two cells: one that installs tfjoint from
the repository, only inside Colab, and one that imports TensorFlow quietly.

Usage:
  .venv/bin/python scripts/build_notebooks.py            # (re)write colabs/*.ipynb
  .venv/bin/python scripts/build_notebooks.py --check    # exit 1 if a committed notebook is stale
  .venv/bin/python scripts/build_notebooks.py --org my-org   # the GitHub org in the install cell and badge
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from typing import List, Tuple

import nbformat

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLABS = os.path.join(REPO_ROOT, "colabs")

# A placeholder: the repository's GitHub organisation is not settled yet.
# Regenerate with --org to point the install cell and the badges at the real one.
DEFAULT_ORG = "YOUR_GITHUB_ORG"

Cell = Tuple[str, str]  # ("markdown" | "code", source)


def md(source: str) -> Cell:
    return ("markdown", textwrap.dedent(source).strip("\n"))


def code(source: str) -> Cell:
    return ("code", textwrap.dedent(source).strip("\n"))


def header(title: str, name: str, org: str, intro: str) -> List[Cell]:
    badge = (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{org}/tfjoint/blob/main/colabs/{name}.ipynb)"
    )
    return [md(f"# {title}\n\n{badge}\n\n" + textwrap.dedent(intro).strip("\n"))]


def install(org: str) -> Cell:
    return code(
        f"""
        # In Colab, install tfjoint (and matplotlib) from the repository. Anywhere else this
        # cell does nothing: install tfjoint yourself first, e.g. `pip install -e '.[cpu,notebooks]'`.
        # If pip upgrades TensorFlow, restart the runtime (Runtime > Restart session) once.
        import sys

        if "google.colab" in sys.modules:
            !pip install -q "tfjoint[plot] @ git+https://github.com/{org}/tfjoint"
        """
    )


SETUP = code(
    '''
    import contextlib
    import os
    import sys
    import warnings

    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # TensorFlow's C++ INFO and WARNING lines


    @contextlib.contextmanager
    def quiet_native_stderr():
        """Silence C-level stderr: TF 2.21 prints start-up lines (oneDNN, CUDA) that ignore TF_CPP_MIN_LOG_LEVEL."""
        saved = os.dup(2)
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
                os.close(saved)


    with quiet_native_stderr():
        import tensorflow as tf
        import tensorflow_probability as tfp

    tf.get_logger().setLevel("ERROR")  # TensorFlow's Python logger: retracing notes and the like
    for module in (r"tensorflow", r"tf_keras", r"keras", r"tensorflow_probability"):
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"tensorflow_probability")

    import matplotlib

    if "ipykernel" not in sys.modules:
        matplotlib.use("Agg")  # run as a plain script, headless
    import matplotlib.pyplot as plt
    import numpy as np
    from IPython.display import Markdown, display

    import tfjoint

    tfd, tfb = tfp.distributions, tfp.bijectors
    print(f"TensorFlow {tf.__version__}, TFP {tfp.__version__}, tfjoint {tfjoint.__version__}")
    '''
)

INFER_IMPORTS = code(
    """
    from tfjoint.infer import map_estimate, nuts, predict_proba
    """
)

IRIS_IMPORTS = code(
    """
    from tfjoint.infer import compare, map_estimate, nuts, plot_compare, predict_proba, predictive
    """
)


# --------------------------------------------------------------------------------------------
# 1. Auto-Batched Joint Distributions
# --------------------------------------------------------------------------------------------


def autobatched_joint_distributions(org: str) -> List[Cell]:
    name = "autobatched_joint_distributions"
    return header(
        "Auto-Batched Joint Distributions, explained by tfjoint",
        name,
        org,
        """
        This notebook retells TFP's tutorial *Auto-Batched Joint Distributions: A Gentle
        Tutorial*: one small regression model, written four ways, and why only two of them
        behave. The tutorial explains each failure by printing shapes and reading them;
        here `tfjoint.check` prints one shape report per model that names the node, the
        check that failed and the fix, and `tfjoint.compare_variants` puts the forms side
        by side: do they agree, what are their batch shapes, and what do they cost.
        """,
    ) + [
        install(org),
        SETUP,
        md(
            """
            ## What a joint distribution should do

            The tutorial lists what we want from a model `jd` (a TFP joint distribution):

            1. `jd.sample()` works;
            2. `jd.log_prob(jd.sample())` is a **scalar** (one number for one draw of every node);
            3. `jd.sample([5, 3])` gives every node a value of shape `[5, 3] + (its shape)`;
            4. `jd.log_prob(jd.sample([5, 3]))` has shape `[5, 3]`.

            `tfjoint.check(model, sample_shape=(5, 3))` runs exactly these, as the checks
            `sample`, `scalar_log_prob`, `batched_sample` and `batched_log_prob`, plus
            `finite_log_prob` (the log-prob is finite at prior draws).

            ## The model

            $m \\sim \\mathrm{Normal}(0, 1)$, $b \\sim \\mathrm{Normal}(0, 1)$,
            $Y \\sim \\mathrm{Normal}(mX + b, 1)$ with the known covariate `X = [0, 1, ..., 6]`.
            Written the obvious way:
            """
        ),
        code(
            """
            X = tf.range(7.0)

            jds = tfd.JointDistributionSequential([
                tfd.Normal(loc=0.0, scale=1.0),                              # m
                tfd.Normal(loc=0.0, scale=1.0),                              # b
                lambda b, m: tfd.Normal(loc=m * X + b, scale=1.0, name="Y"),  # Y
            ])

            draw = jds.sample(seed=(0, 1))
            print("value shapes:      ", [v.shape.as_list() for v in draw])
            print("batch_shape:       ", jds.batch_shape)
            print("log_prob(sample()):", jds.log_prob(draw).shape)
            """
        ),
        md(
            """
            Sampling works, but `log_prob` of one draw has shape `[7]`, not `[]`. The shape
            report shows where that comes from:
            """
        ),
        code(
            """
            naive_report = tfjoint.check(jds, sample_shape=(5, 3), seed=0)
            display(naive_report)
            """
        ),
        md(
            """
            Read the per-node table: `Y` is a `Normal` with `batch_shape [7]` and
            `event_shape []`, so its log-prob part is seven numbers, one per element of `X`.
            The joint log-prob adds the parts with broadcasting, so it is seven numbers too.
            TFP treats `Y` as seven independent *batch members* instead of one 7-vector
            *event*. The second finding is desideratum 3: with `m` and `b` of shape `[5, 3]`,
            `m * X` multiplies `[5, 3]` by `[7]`, which does not broadcast.

            Each finding says which node, what was expected, and the fix, and tfjoint tried
            the fix ("Fix verified").

            ## First fix: `tfd.Independent`

            The tutorial's first repair reinterprets `Y`'s batch dimension as an event
            dimension:
            """
        ),
        code(
            """
            jds_i = tfd.JointDistributionSequential([
                tfd.Normal(loc=0.0, scale=1.0),
                tfd.Normal(loc=0.0, scale=1.0),
                lambda b, m: tfd.Independent(
                    tfd.Normal(loc=m * X + b, scale=1.0), reinterpreted_batch_ndims=1, name="Y"),
            ])
            independent_report = tfjoint.check(jds_i, sample_shape=(5, 3), seed=0)
            display(independent_report)
            """
        ),
        md(
            """
            `log_prob(sample())` is now a scalar, but `sample([5, 3])` still fails at `Y`,
            for the reason above. The fix the report gives is the tutorial's next step.

            ## Second fix: broadcast by hand

            Give the parents' sample dimensions somewhere to go: `m[..., tf.newaxis]` has
            shape `[5, 3, 1]`, which broadcasts against `X`'s `[7]` to `[5, 3, 7]`. This is
            the tutorial's `jds_ia`:
            """
        ),
        code(
            """
            jds_ia = tfd.JointDistributionSequential([
                tfd.Normal(loc=0.0, scale=1.0),
                tfd.Normal(loc=0.0, scale=1.0),
                lambda b, m: tfd.Independent(
                    tfd.Normal(loc=m[..., tf.newaxis] * X + b[..., tf.newaxis], scale=1.0),
                    reinterpreted_batch_ndims=1, name="Y"),
            ])
            hand_report = tfjoint.check(jds_ia, sample_shape=(5, 3), seed=0)
            display(hand_report)
            """
        ),
        md(
            """
            Every check passes. The price is that the model is no longer written the way
            one thinks about it: each factory must know how many dimensions its parents
            might carry, and `reinterpreted_batch_ndims` must match the data's rank.

            ## AutoBatched: write the model for one draw

            `JointDistributionSequentialAutoBatched` takes the model exactly as first
            written. It treats every node as having no batch dimensions (so `Y`'s `[7]` is
            part of its event) and lifts the model over sample dimensions with
            `tf.vectorized_map`:
            """
        ),
        code(
            """
            jdab = tfd.JointDistributionSequentialAutoBatched([
                tfd.Normal(loc=0.0, scale=1.0),
                tfd.Normal(loc=0.0, scale=1.0),
                lambda b, m: tfd.Normal(loc=m * X + b, scale=1.0, name="Y"),
            ])
            autobatched_report = tfjoint.check(jdab, sample_shape=(5, 3), seed=0)
            display(autobatched_report)
            print("batch_shape:", jdab.batch_shape)
            """
        ),
        md(
            """
            ## All four side by side

            `tfjoint.variants(jds)` derives the `Independent` and AutoBatched forms from
            the naive one; `extra=` adds the hand-broadcast model. `compare_variants`
            checks each, evaluates every log-prob at the *same* draws (from the AutoBatched
            form), and times `sample` and `log_prob` eagerly, under `tf.function` and under
            XLA (`jit_compile=True`), interleaving the variants. The times are from this
            machine and vary from run to run; the first-call column is tracing and
            compilation.
            """
        ),
        code(
            """
            forms = tfjoint.variants(jds, extra={"hand": jds_ia})
            comparison = tfjoint.compare_variants(forms, sample_shape=(5, 3), seed=0, repeats=5)
            display(comparison)
            """
        ),
        md(
            """
            The hand-broadcast and AutoBatched forms agree at these draws (the
            `max |Δ log_prob|` column: zero, up to float32 round-off), and both pass every
            check. The naive and `Independent` forms cannot even evaluate a `[5, 3]` batch.

            A direct look at the numbers. One practical note: `jdab.sample([5, 3], seed=...)`
            with a stateless seed makes TFP warn that it falls back to a loop, one draw at a
            time. `tfjoint.sample(jdab, [5, 3], seed=...)` draws from the same distribution
            without the loop (it vectorizes only the construction of each node's
            distribution), and `tfjoint.log_prob` caches the vectorized log-prob between
            eager calls; `compare_variants` uses both.
            """
        ),
        code(
            """
            draws = tfjoint.sample(jdab, [5, 3], seed=(1, 2))
            lp_autobatched = jdab.log_prob(draws)
            lp_hand = jds_ia.log_prob(draws)
            lp_fast = tfjoint.log_prob(jdab, draws)
            print("value shapes:", [v.shape.as_list() for v in draws])
            print("log_prob shapes:", lp_hand.shape.as_list(), lp_autobatched.shape.as_list())
            print("max |hand - autobatched|:   ", float(tf.reduce_max(tf.abs(lp_hand - lp_autobatched))))
            print("max |tfjoint.log_prob - TFP|:", float(tf.reduce_max(tf.abs(lp_fast - lp_autobatched))))
            """
        ),
        md(
            """
            ## A 2-D covariate: `X` of shape `[2, 7]`

            Now let `X` have two rows. The naive model's `Y` gets `batch_shape [2, 7]`; the
            hand-broadcast model needs *two* new axes per parent and
            `reinterpreted_batch_ndims=2`; the AutoBatched model is unchanged.
            """
        ),
        code(
            """
            X2 = tf.stack([tf.range(7.0), tf.range(7.0) + 7.0])  # [2, 7]

            naive_2d = tfd.JointDistributionSequential([
                tfd.Normal(0.0, 1.0),
                tfd.Normal(0.0, 1.0),
                lambda b, m: tfd.Normal(m * X2 + b, 1.0, name="Y"),
            ])
            naive_2d_report = tfjoint.check(naive_2d, sample_shape=(5, 3), seed=0)
            display(naive_2d_report)
            """
        ),
        md(
            """
            The report's fixes now say `reinterpreted_batch_ndims=2` and two
            `tf.newaxis`. Written out, and next to the AutoBatched form:
            """
        ),
        code(
            """
            hand_2d = tfd.JointDistributionSequential([
                tfd.Normal(0.0, 1.0),
                tfd.Normal(0.0, 1.0),
                lambda b, m: tfd.Independent(
                    tfd.Normal(m[..., tf.newaxis, tf.newaxis] * X2 + b[..., tf.newaxis, tf.newaxis], 1.0),
                    reinterpreted_batch_ndims=2, name="Y"),
            ])
            autobatched_2d = tfd.JointDistributionSequentialAutoBatched([
                tfd.Normal(0.0, 1.0),
                tfd.Normal(0.0, 1.0),
                lambda b, m: tfd.Normal(m * X2 + b, 1.0, name="Y"),
            ])
            comparison_2d = tfjoint.compare_variants(
                {"hand": hand_2d, "autobatched": autobatched_2d}, sample_shape=(5, 3), seed=0, modes=())
            display(comparison_2d)
            display(tfjoint.check(autobatched_2d, sample_shape=(5, 3), seed=0))
            """
        ),
        md(
            """
            ## What this notebook asserts

            The tutorial's shapes, the findings at the node that causes them, and agreement
            between the hand-broadcast and AutoBatched forms. They are compared to float32
            round-off: each joint log-prob is a sum of at most 16 float32 terms, so two
            orders of summation can differ by at most about `16 * eps * sum(|terms|)`
            (`eps = 1.2e-7`); the bound below allows that.
            """
        ),
        code(
            """
            def parts_bound(parts):
                \"\"\"Float32 round-off bound for a sum of log-prob parts: 16 * eps * sum |parts|.\"\"\"
                total = sum(tf.abs(p) if p.shape.rank == 2 else tf.reduce_sum(tf.abs(p), axis=list(range(2, p.shape.rank)))
                            for p in parts)
                return 16 * np.finfo(np.float32).eps * total.numpy()


            # Desiderata as the tutorial prints them.
            assert jds.batch_shape == [[], [], [7]] and jds.log_prob(draw).shape == [7]
            assert not naive_report.ok
            assert {(f.node, f.check) for f in naive_report.findings} == {("Y", "scalar_log_prob"), ("Y", "batched_sample")}
            assert jds_i.log_prob(jds_i.sample(seed=(0, 1))).shape == []
            assert {(f.node, f.check) for f in independent_report.findings} == {("Y", "batched_sample")}
            for report in (hand_report, autobatched_report):
                assert report.ok
                assert [n.batched_value_shape for n in report.nodes] == [(5, 3), (5, 3), (5, 3, 7)]
                assert report.nodes[-1].batched_log_prob_shape == (5, 3)
            assert jdab.batch_shape == []

            # Hand broadcasting and AutoBatched agree: zero difference up to float32 round-off.
            assert [v.shape.as_list() for v in draws] == [[5, 3], [5, 3], [5, 3, 7]]
            assert lp_hand.shape == lp_autobatched.shape == [5, 3]
            bound = parts_bound(jdab.log_prob_parts(draws))
            assert np.all(np.abs(lp_hand.numpy() - lp_autobatched.numpy()) <= bound)
            assert np.all(np.abs(lp_fast.numpy() - lp_autobatched.numpy()) <= bound)
            assert comparison.max_abs_diff["hand"] <= 1e-4  # compare_variants' own agreement tolerance (its atol)
            assert comparison.max_abs_diff["sequential"] is None and comparison.max_abs_diff["independent"] is None
            assert comparison.recommendation in ("autobatched", "hand")
            assert dict(comparison.batch_shapes) == {
                "sequential": "[[], [], [7]]", "independent": "[[], [], []]", "autobatched": "[]", "hand": "[[], [], []]"}

            # The 2-D case.
            assert {(f.node, f.check) for f in naive_2d_report.findings} == {("Y", "scalar_log_prob"), ("Y", "batched_sample")}
            assert "reinterpreted_batch_ndims=2" in str(naive_2d_report)
            draws_2d = tfjoint.sample(autobatched_2d, [5, 3], seed=(3, 4))
            assert [v.shape.as_list() for v in draws_2d] == [[5, 3], [5, 3], [5, 3, 2, 7]]
            lp_hand_2d, lp_ab_2d = hand_2d.log_prob(draws_2d), autobatched_2d.log_prob(draws_2d)
            assert lp_hand_2d.shape == lp_ab_2d.shape == [5, 3]
            assert np.all(np.abs(lp_hand_2d.numpy() - lp_ab_2d.numpy()) <= parts_bound(autobatched_2d.log_prob_parts(draws_2d)))
            assert comparison_2d.max_abs_diff["hand"] is not None
            print("All assertions hold.")
            """
        ),
    ]


# --------------------------------------------------------------------------------------------
# 2. Vectorized log-probs ("Autobatching for Bayesian inference", in TensorFlow)
# --------------------------------------------------------------------------------------------


def vectorized_log_probs(org: str) -> List[Cell]:
    name = "vectorized_log_probs"
    return header(
        "Vectorized log-probs: autobatching for Bayesian inference in TensorFlow",
        name,
        org,
        """
        JAX's notebook *Autobatching for Bayesian inference* fits a Bayesian logistic
        regression by writing the log-joint for **one** coefficient vector and letting
        `jax.vmap` batch it. This notebook tells the same story in TensorFlow with
        `tfjoint.vectorize` (`vmap` semantics on `tf.vectorized_map`) and `tfjoint.jit`
        (`tf.function(jit_compile=True)` that reports retracing): the unbatched log-joint,
        the hand-batched one, the vectorized one, what they cost, and mean-field
        variational inference with the vectorized log-joint inside the ELBO.
        """,
    ) + [
        install(org),
        SETUP,
        code(
            """
            # check_batched: trace a function on one example and on a batch, and explain a wrong output shape.
            check_batched = getattr(tfjoint, "check_batched", None)
            if check_batched is None:
                from tfjoint._batching.vectorize import check_batched
            """
        ),
        md(
            """
            ## Data

            As in the JAX notebook: 10 features, 100 points, true coefficients
            `true_beta ~ Normal(0, 1)`, features `~ Normal(0, 1)`, and labels
            `data @ true_beta + noise > 0`. All draws come from one stateless seed.
            """
        ),
        code(
            """
            NUM_FEATURES, NUM_POINTS = 10, 100

            beta_seed, data_seed, noise_seed = tfp.random.split_seed((0, 1), 3)
            true_beta = tf.random.stateless_normal([NUM_FEATURES], seed=beta_seed)
            data = tf.random.stateless_normal([NUM_POINTS, NUM_FEATURES], seed=data_seed)
            noise = tf.random.stateless_normal([NUM_POINTS], seed=noise_seed)
            labels = tf.cast(tf.linalg.matvec(data, true_beta) + noise > 0, tf.float32)
            print("true_beta:", np.round(true_beta.numpy(), 2))
            print("labels: ", int(labels.numpy().sum()), "ones of", NUM_POINTS)
            """
        ),
        md(
            """
            ## The log-joint for one `beta`

            Prior $\\beta \\sim \\mathrm{Normal}(0, I)$, likelihood
            $y_i \\sim \\mathrm{Bernoulli}(\\mathrm{sigmoid}(x_i^\\top \\beta))$, written for a
            single `beta` of shape `[10]`:
            """
        ),
        code(
            """
            sign = 2.0 * labels - 1.0  # [100]: +1 / -1


            def log_joint(beta):  # beta: [10] -> []
                result = tf.reduce_sum(tfd.Normal(0.0, 1.0).log_prob(beta))
                return result + tf.reduce_sum(-tf.math.log1p(tf.exp(-sign * tf.linalg.matvec(data, beta))))


            print(log_joint(true_beta))
            """
        ),
        md(
            """
            In JAX, calling this on a batch of `beta`s fails (`np.dot` refuses the shapes).
            In TensorFlow it is worse: `tf.linalg.matvec` broadcasts and the sums swallow the
            batch, so a batch of three `beta`s silently returns **one** number.
            `check_batched` traces the function on one example and on a batch and says so:
            """
        ),
        code(
            """
            betas = tf.random.stateless_normal([3, NUM_FEATURES], seed=(3, 4))
            print("log_joint(betas).shape =", log_joint(betas).shape, "for 3 betas")
            try:
                check_batched(log_joint, (true_beta,), batch_shape=(3,))
            except tfjoint.ShapeError as error:
                print(error)
            """
        ),
        md(
            """
            ## Batching by hand

            The usual repair: reduce over `axis=-1` only and turn `matvec` into a `matmul`
            with the batch first.
            """
        ),
        code(
            """
            def batched_log_joint(beta):  # beta: [B, 10] -> [B]
                result = tf.reduce_sum(tfd.Normal(0.0, 1.0).log_prob(beta), axis=-1)
                logits = tf.matmul(beta, data, transpose_b=True)  # [B, 100]
                return result + tf.reduce_sum(-tf.math.log1p(tf.exp(-sign * logits)), axis=-1)


            print("batched_log_joint(betas).shape =", batched_log_joint(betas).shape)
            print("check_batched:", check_batched(batched_log_joint, (true_beta,), batch_shape=(5,)))
            """
        ),
        md(
            """
            ## Batching with `tfjoint.vectorize`

            `tfjoint.vectorize(log_joint)` is `jax.vmap(log_joint)`: it maps over axis 0 of
            its argument and returns a function of a batch. It reports any op that
            `tf.vectorized_map` could only run in a `while_loop` (`fallback="error"` makes
            that an error rather than a warning).
            """
        ),
        code(
            """
            vmap_log_joint = tfjoint.vectorize(log_joint, fallback="error")
            loop = tf.stack([log_joint(b) for b in betas])
            print("vectorized: ", vmap_log_joint(betas).numpy())
            print("hand:       ", batched_log_joint(betas).numpy())
            print("python loop:", loop.numpy())
            display(vmap_log_joint.report)
            """
        ),
        md(
            """
            The report lists how the lifting went: no op fell back to a `while_loop`, and
            which ops tfjoint rewrote (see below). Compiling with XLA should not change the
            numbers beyond float32 round-off; `tfjoint.xla_consistency` runs the function
            with and without XLA and compares:
            """
        ),
        code(
            """
            display(tfjoint.xla_consistency(vmap_log_joint, betas, rtol=3e-5))
            """
        ),
        md(
            """
            ## What they cost

            A batch of 1000 `beta`s, eagerly and compiled with XLA. Within a mode the
            variants take turns (21 rounds, in a shuffled order each round) and the table
            shows the median; the ratio is to hand batching in the same mode.
            `tf.vectorized_map` is TensorFlow's own lifting, for comparison; the Python
            loop is timed once. Times depend on the machine and on what else runs on it.
            """
        ),
        code(
            """
            import random
            import time


            def time_interleaved(fns, x, rounds=21):
                \"\"\"First-call and median per-call seconds of each fn(x), interleaved in a shuffled order.\"\"\"
                first, times = {}, {name: [] for name in fns}
                for name, fn in fns.items():  # trace and compile
                    start = time.perf_counter()
                    fn(x).numpy()
                    first[name] = time.perf_counter() - start
                for r in range(rounds):
                    order = list(fns)
                    random.Random(r).shuffle(order)
                    for name in order:
                        start = time.perf_counter()
                        fns[name](x).numpy()
                        times[name].append(time.perf_counter() - start)
                return first, {name: float(np.median(t)) for name, t in times.items()}


            big_betas = tf.random.stateless_normal([1000, NUM_FEATURES], seed=(5, 6))
            timed = {
                "eager": {
                    "hand": batched_log_joint,
                    "tfjoint.vectorize": vmap_log_joint,
                    "tf.vectorized_map": lambda b: tf.vectorized_map(log_joint, b),
                },
                "xla": {
                    "hand": tfjoint.jit(batched_log_joint),
                    "tfjoint.vectorize": tfjoint.jit(vmap_log_joint),
                    "tf.vectorized_map": tfjoint.jit(lambda b: tf.vectorized_map(log_joint, b)),
                },
            }
            rows = ["| mode | variant | median per call | ratio to hand | first call |", "|---|---|---|---|---|"]
            for mode, fns in timed.items():
                first, median = time_interleaved(fns, big_betas)
                for variant in fns:
                    rows.append(f"| {mode} | {variant} | {1e3 * median[variant]:.2f} ms | "
                                f"{median[variant] / median['hand']:.2f} | {1e3 * first[variant]:.0f} ms |")
                if mode == "eager":
                    start = time.perf_counter()
                    tf.stack([log_joint(b) for b in big_betas]).numpy()
                    loop_time = time.perf_counter() - start
                    rows.append(f"| eager | python loop | {1e3 * loop_time:.0f} ms (once) | {loop_time / median['hand']:.0f} | - |")
            display(Markdown("\\n".join(rows)))
            """
        ),
        md(
            """
            Compiled with XLA, `tfjoint.vectorize` runs at hand-batched speed: tfjoint
            lifts `matvec` of a fixed matrix to the `[B, 10] x [10, 100]` product a person
            writes, so XLA gets the hand-batched program op for op (what remains between
            those two rows is timing noise). `tf.vectorized_map` lifts the same `matvec`
            with two transposes around the product. Eagerly, `tf.vectorized_map` converts
            the function again on every call; `tfjoint.vectorize` keeps the converted
            function, so after the first call it costs what its graph costs, less than
            hand batching run op by op. `scripts/bench_vectorize.py` measures all of this
            more carefully.

            ## Mean-field variational inference

            As in the JAX notebook: a diagonal Gaussian $q(\\beta) = \\mathrm{Normal}(\\mu,
            \\mathrm{diag}(\\sigma^2))$, the ELBO estimated with 100 reparameterised draws
            per step, and 1000 steps of gradient ascent with step size 0.01. The vectorized
            log-joint evaluates all 100 draws at once, and the whole loop is one
            `tf.while_loop` inside one `tfjoint.jit` trace (`on_retrace="error"` would
            stop a second trace).
            """
        ),
        code(
            """
            NUM_STEPS, NUM_SAMPLES, STEP_SIZE = 1000, 100, 0.01


            @tfjoint.jit(on_retrace="error")
            def fit_mean_field(seed):
                def step(i, loc, log_scale, seed, elbos):
                    seed, sample_seed = tfp.random.split_seed(seed)
                    epsilon = tf.random.stateless_normal([NUM_SAMPLES, NUM_FEATURES], seed=sample_seed)
                    with tf.GradientTape() as tape:
                        tape.watch([loc, log_scale])
                        draws = loc + tf.exp(log_scale) * epsilon  # [100, 10]
                        # ELBO = E_q[log p(beta, y)] + entropy(q), the entropy up to a constant.
                        elbo = tf.reduce_mean(vmap_log_joint(draws)) + tf.reduce_sum(log_scale)
                    grad_loc, grad_log_scale = tape.gradient(elbo, [loc, log_scale])
                    return (i + 1, loc + STEP_SIZE * grad_loc, log_scale + STEP_SIZE * grad_log_scale, seed,
                            elbos.write(i, elbo))

                zeros = tf.zeros([NUM_FEATURES])
                elbos = tf.TensorArray(tf.float32, size=NUM_STEPS)
                _, loc, log_scale, _, elbos = tf.while_loop(
                    lambda i, *_: i < NUM_STEPS, step, (tf.constant(0), zeros, zeros, seed, elbos))
                return loc, tf.exp(log_scale), elbos.stack()


            start = time.perf_counter()
            loc, scale, elbos = (t.numpy() for t in fit_mean_field(tf.constant([7, 8])))
            print(f"{NUM_STEPS} steps in {time.perf_counter() - start:.1f} s (trace + compile + run); "
                  f"traces: {fit_mean_field.tracing_count}")
            print(f"ELBO: first 50 steps {elbos[:50].mean():.1f}, last 50 steps {elbos[-50:].mean():.1f}")
            """
        ),
        code(
            """
            fig, (ax_elbo, ax_beta) = plt.subplots(1, 2, figsize=(12, 5))
            ax_elbo.plot(elbos, lw=0.8)
            ax_elbo.set(xlabel="step", ylabel="ELBO estimate", title="ELBO during fitting")

            true = true_beta.numpy()
            ax_beta.errorbar(true, loc, yerr=2 * scale, fmt="o", capsize=3,
                             label="approximate posterior mean ± 2 sd")
            lim = 1.2 * max(np.abs(true).max(), np.abs(loc + 2 * scale).max(), np.abs(loc - 2 * scale).max())
            ax_beta.plot([-lim, lim], [-lim, lim], "k", lw=0.8, label="estimate = true")
            ax_beta.set(xlabel="true beta", ylabel="estimated beta", xlim=(-lim, lim), ylim=(-lim, lim),
                        title="Mean-field VI against the true coefficients")
            ax_beta.legend(loc="lower right")
            plt.show()
            """
        ),
        md(
            """
            As in the JAX notebook's plot, the means overshoot the true values in magnitude
            (100 points of a logistic likelihood against a `Normal(0, 1)` prior), and the
            true coefficients sit inside the error bars.

            ## What this notebook asserts

            * The vectorized log-joint equals hand batching and the Python loop. Each value
              is a float32 sum of 110 same-signed terms computed in different orders, whose
              relative error is at most about `110 * eps = 1.3e-5` each; `rtol=3e-5` allows
              two of them.
            * One trace for the whole VI loop, and the ELBO went up.
            * Coverage: if $q$ were the exact posterior, a true coefficient would fall
              outside mean ± 3 sd with probability 0.27%. Mean-field VI understates
              marginal spreads (little here: the features are independent) and the data
              are noisy, so at least 8 of the 10 must be inside.
            """
        ),
        code(
            """
            assert log_joint(betas).shape == []  # the silent TF failure the notebook opens with
            np.testing.assert_allclose(vmap_log_joint(betas).numpy(), batched_log_joint(betas).numpy(), rtol=3e-5)
            np.testing.assert_allclose(vmap_log_joint(betas).numpy(), loop.numpy(), rtol=3e-5)
            np.testing.assert_allclose(timed["xla"]["tfjoint.vectorize"](big_betas).numpy(),
                                       batched_log_joint(big_betas).numpy(), rtol=3e-5)
            assert vmap_log_joint(big_betas).shape == [1000]

            assert fit_mean_field.tracing_count == 1
            assert loc.shape == scale.shape == (NUM_FEATURES,) and np.all(scale > 0)
            assert np.all(np.isfinite(elbos)) and elbos[-50:].mean() > elbos[:50].mean() + 5.0
            inside = np.abs(true - loc) <= 3 * scale
            print(f"true beta within mean ± 3 sd: {inside.sum()} of {NUM_FEATURES}")
            assert inside.sum() >= 8, (loc, scale, true)
            print("All assertions hold.")
            """
        ),
    ]


# --------------------------------------------------------------------------------------------
# 3. Bayesian logistic regression on Iris ("TFP on JAX" demo)
# --------------------------------------------------------------------------------------------


def bayesian_logistic_regression_iris(org: str) -> List[Cell]:
    name = "bayesian_logistic_regression_iris"
    return header(
        "Bayesian multinomial logistic regression on Iris, with compiled NUTS",
        name,
        org,
        """
        The Iris demo from *TFP on JAX*, in TensorFlow with tfjoint: write the model for
        one draw, check its shapes, sample the posterior with NUTS compiled by XLA (4
        chains run as one batch, with one progress line that updates between compiled
        chunks), read the summary, look at the draws with ArviZ's trace, posterior and
        predictive-check plots (with the features' and species' names on the axes), and
        classify with the posterior: the accuracy of single draws, and of their average
        (Bayesian model averaging). Then compare the model with one without its bias by
        PSIS-LOO, and an L-BFGS MAP estimate for comparison.
        """,
    ) + [
        install(org),
        SETUP,
        IRIS_IMPORTS,
        md(
            """
            ## Data and model

            150 flowers, 4 measurements (cm), 3 species, bundled with tfjoint. The model is
            the demo's: a weight matrix and a bias with standard normal priors, and
            categorical labels with logits `features @ w + b`.
            """
        ),
        code(
            """
            features, labels = tfjoint.models.load_iris()
            print("features:", features.shape, features.dtype, " labels:", labels.shape, np.bincount(labels))


            @tfjoint.model
            def iris_model(features, num_classes=3):
                w = yield tfd.Normal(tf.zeros([features.shape[-1], num_classes]), 1.0, name="w")
                b = yield tfd.Normal(tf.zeros([num_classes]), 1.0, name="b")
                yield tfd.Categorical(logits=tf.linalg.matmul(features, w) + b, name="y")


            jd = iris_model(features)  # a plain tfd.JointDistributionCoroutineAutoBatched
            print(type(jd).__name__)
            """
        ),
        md(
            """
            `@tfjoint.model` builds the AutoBatched form (written for one draw, no `Root`,
            no `Independent`) and makes every node carry a name. The same model ships as
            `tfjoint.models.multinomial_logistic_regression`.

            ## The model, checked

            Before any inference: do the shapes behave, and what does the sampler see? The
            event-space trace lists what NUTS will move once `y` is observed: 12 + 3 = 15
            unconstrained numbers.
            """
        ),
        code(
            """
            display(tfjoint.check(jd, sample_shape=(5, 3), seed=0))
            display(tfjoint.trace_joint_bijector(jd, observed={"y": labels}))
            """
        ),
        md(
            """
            ## NUTS, compiled

            `nuts` pins the observed node, maps the free nodes to one flat unconstrained
            vector per chain, adapts the step size and a diagonal metric during warmup (as
            Stan does), and runs the chains in XLA-compiled chunks of 100 steps. Tracing
            and compiling come first (the line shows their elapsed time); then the same
            line updates after every chunk. Had the run a convergence problem (divergences,
            R-hat, ESS, tree depth, E-BFMI), `nuts` would say so here, with the fix.
            """
        ),
        code(
            """
            posterior = nuts(iris_model(features), observed={"y": labels},
                             num_chains=4, num_warmup=500, num_results=1000, seed=0)
            print({k: round(v, 1) for k, v in posterior.timings.items()})
            posterior
            """
        ),
        code(
            """
            summary = posterior.summary()
            display(summary)
            """
        ),
        md(
            """
            ## The draws, through ArviZ

            `posterior.to_arviz()` gives ArviZ's `InferenceData` with every group it uses:
            the draws, the sampler's statistics, the data, and the pointwise log-likelihood
            of each flower at each draw (for LOO). `coords` and `dims` name the axes: `w`
            is `[feature, species]`, `b` and the classes are `species`.
            """
        ),
        code(
            """
            coords = {"feature": list(tfjoint.models.IRIS_FEATURE_NAMES), "species": list(tfjoint.models.IRIS_CLASS_NAMES)}
            dims = {"w": ["feature", "species"], "b": ["species"], "y": ["flower"], "features": ["flower", "feature"]}
            idata = posterior.to_arviz(coords=coords, dims=dims)
            idata
            """
        ),
        md(
            """
            Four well-mixed chains overlap in the trace plot (one colour per species, one
            line style per chain), and the posterior plot gives each weight's density and
            94% HDI, labelled by feature and species:
            """
        ),
        code(
            """
            posterior.plot_trace(var_names=["b"], coords=coords, dims=dims, figsize=(10, 2.5))
            plt.show()
            posterior.plot_posterior(var_names=["w"], coords=coords, dims=dims, figsize=(12, 10), textsize=9)
            plt.tight_layout()
            plt.show()
            """
        ),
        md(
            """
            A posterior predictive check: `predictive` draws the 150 labels once per posterior
            draw, and `plot_ppc` (ArviZ's) puts the histogram of each replicated data set
            against the observed one (50 flowers of each species). The model reproduces the
            class counts:
            """
        ),
        code(
            """
            replicated = predictive(posterior, seed=1)  # {"y": [4, 1000, 150]}
            posterior.plot_ppc(replicated, coords=coords, dims=dims, num_pp_samples=200, figsize=(6, 3))
            plt.show()
            """
        ),
        md(
            """
            ## Classifying with the posterior

            Each draw of `(w, b)` is a classifier. The demo scores two ways of using them:
            the average accuracy of the draws one at a time, and the accuracy of the
            average of their class probabilities (Bayesian model averaging, BMA).
            `predict_proba` does the averaging for any model with a categorical node; here
            it is also computed by hand from the draws, as a check.
            """
        ),
        code(
            """
            w = posterior.draws["w"].reshape(-1, 4, 3)  # [chain * draw, 4, 3]
            b = posterior.draws["b"].reshape(-1, 3)     # [chain * draw, 3]
            probs = tf.nn.softmax(tf.einsum("nf,dfk->dnk", features, w) + b[:, None, :]).numpy()  # [draws, 150, 3]

            per_draw_accuracy = (probs.argmax(-1) == labels).mean(axis=-1)
            bma_probs = predict_proba(iris_model(features), posterior)  # [150, 3]
            average_accuracy = per_draw_accuracy.mean()
            bma_accuracy = (bma_probs.argmax(-1) == labels).mean()
            print(f"Average accuracy: {average_accuracy:.4f}")
            print(f"BMA accuracy:     {bma_accuracy:.4f}")
            """
        ),
        md(
            """
            Which flowers does the posterior get wrong, or nearly? Those whose two largest
            averaged class probabilities are within 0.1 of each other, or misclassified:
            """
        ),
        code(
            """
            species = tfjoint.models.IRIS_CLASS_NAMES
            top2 = np.sort(bma_probs, axis=-1)[:, -2:]
            margin = top2[:, 1] - top2[:, 0]
            doubtful = np.where((margin < 0.1) | (bma_probs.argmax(-1) != labels))[0]
            rows = ["| flower | species | BMA probabilities | predicted |", "|---|---|---|---|"]
            for i in doubtful:
                probabilities = ", ".join(f"{p:.3f}" for p in bma_probs[i])
                rows.append(f"| {i} | {species[labels[i]]} | {probabilities} | {species[bma_probs[i].argmax()]} |")
            display(Markdown("\\n".join(rows)))
            """
        ),
        md(
            """
            Two versicolor flowers are classified as virginica by the posterior average, and
            a few more sit near the versicolor/virginica boundary. The closest is at about
            0.50 / 0.50: its two probabilities differ by less than their Monte Carlo error,
            so the draws decide whether it counts as right, and BMA accuracy reads 0.980 or
            0.987 (147 or 148 of 150) from run to run. The assertion below, accuracy at
            least 0.98, allows exactly that one.
            """
        ),
        md(
            """
            ## Comparing two models: with and without the bias

            Does the bias `b` earn its place? The same model without it, sampled the same
            way, and both scored by PSIS-LOO (the expected log predictive density of a
            flower left out, estimated from the pointwise log-likelihood): `compare` returns
            ArviZ's table, best model first, and `plot_compare` draws it.
            """
        ),
        code(
            """
            @tfjoint.model
            def iris_model_without_bias(features, num_classes=3):
                w = yield tfd.Normal(tf.zeros([features.shape[-1], num_classes]), 1.0, name="w")
                yield tfd.Categorical(logits=tf.linalg.matmul(features, w), name="y")


            posterior_without_bias = nuts(iris_model_without_bias(features), observed={"y": labels},
                                          num_chains=4, num_warmup=500, num_results=1000, seed=0)
            table = compare({"with bias": posterior, "without bias": posterior_without_bias})
            display(table)
            plot_compare(table, figsize=(8, 2.5))
            plt.tight_layout()
            plt.show()
            """
        ),
        md(
            """
            The bias helps, a little: the model with it is ahead by about 1.2 in expected log
            predictive density, several standard errors of the difference (`dse`), and takes
            all the stacking weight. The pointwise log-likelihood behind the table is the
            categorical log-probability of each flower's label at each draw; the assertions
            below recompute it by hand.
            """
        ),
        md(
            """
            ## MAP by L-BFGS, for comparison

            `map_estimate` searches for the posterior mode from 10 random starts as one
            batch with `tfp.optimizer.lbfgs_minimize`, compiled. One point estimate gives
            one classifier:
            """
        ),
        code(
            """
            fit = map_estimate(iris_model(features), observed={"y": labels}, num_starts=10, seed=0)
            display(fit)
            map_logits = features @ fit.params["w"] + fit.params["b"]
            map_accuracy = (map_logits.argmax(-1) == labels).mean()
            print(f"MAP accuracy: {map_accuracy:.4f}")
            print("posterior mean of w:\\n", posterior.draws["w"].mean(axis=(0, 1)).round(2))
            print("MAP w:\\n", fit.params["w"].round(2))
            """
        ),
        md(
            """
            ## What this notebook asserts

            * The sampler converged: every R-hat below 1.05 and fewer than 1% divergent
              draws.
            * The `log_likelihood` group is `log Categorical(y | softmax(features @ w + b))`
              computed by hand at every draw (float32: `atol=1e-4`), with the dims given.
            * `predict_proba` equals the hand-computed average of the per-draw
              probabilities (float32 softmax averaged in another order: `atol=1e-5`).
            * BMA accuracy of at least 0.98 on the training data (at most 3 of 150 wrong), as
              in the demo.
            * The model comparison ranks the model with the bias first, ahead by more than
              two standard errors of the difference, and its `elpd_loo` is `posterior.loo()`'s.
            * The MAP search converged from every start to the same objective value: the
              log posterior is concave (a Gaussian prior plus a softmax likelihood), so there
              is one mode.
            """
        ),
        code(
            """
            assert posterior.draws["w"].shape == (4, 1000, 4, 3) and posterior.draws["b"].shape == (4, 1000, 3)
            assert posterior.sample_stats["lp"].shape == (4, 1000)
            assert np.max(summary.r_hat) < 1.05, summary.r_hat
            assert posterior.num_divergences < 0.01 * posterior.sample_stats["lp"].size, posterior.num_divergences
            assert idata.posterior["w"].dims == ("chain", "draw", "feature", "species")
            assert idata.log_likelihood["y"].dims == ("chain", "draw", "flower")
            logits = np.einsum("nf,cdfk->cdnk", features, posterior.draws["w"]) + posterior.draws["b"][:, :, None, :]
            by_hand = tfd.Categorical(logits=logits).log_prob(labels).numpy()  # [4, 1000, 150]
            np.testing.assert_allclose(idata.log_likelihood["y"].values, by_hand, atol=1e-4)
            assert replicated["y"].shape == (4, 1000, 150)
            assert list(table.index) == ["with bias", "without bias"], table
            assert table.loc["without bias", "elpd_diff"] > 2 * table.loc["without bias", "dse"], table
            assert abs(table.loc["with bias", "elpd_loo"] - posterior.loo().elpd_loo) < 1e-6
            np.testing.assert_allclose(bma_probs, probs.mean(axis=0), atol=1e-5)
            assert bma_accuracy >= 0.98, bma_accuracy
            wrong = np.where(bma_probs.argmax(-1) != labels)[0]  # as the text says: versicolor taken for virginica
            assert 2 <= len(wrong) <= 3 and np.all(labels[wrong] == 1) and np.all(bma_probs[wrong].argmax(-1) == 2), wrong
            assert fit.converged.all()
            np.testing.assert_allclose(fit.objective_values, fit.objective_value, rtol=1e-4)
            print("All assertions hold.")
            """
        ),
    ]


# --------------------------------------------------------------------------------------------
# 4. Shapes through bijectors (FlowTorch's "Shapes" page, for TFP)
# --------------------------------------------------------------------------------------------


def shapes_through_bijectors(org: str) -> List[Cell]:
    name = "shapes_through_bijectors"
    return header(
        "Shapes, from distributions through bijectors",
        name,
        org,
        """
        FlowTorch's documentation has a page on *Shapes*: sample, batch and event shapes,
        and what a bijector does to them in a transformed distribution. This notebook is
        that page for TensorFlow Probability, with tfjoint's reports doing the
        explaining: `tfjoint.check` for the shapes of distributions in a model,
        `tfjoint.trace_bijector` for what each step of a bijector does, including the
        common mistakes and their fixes, and `tfjoint.trace_joint_bijector` for the
        unconstrained space that samplers see.
        """,
    ) + [
        install(org),
        SETUP,
        md(
            """
            ## Three kinds of shape

            * **event_shape**: the shape of *one* draw of the random variable. A
              3-dimensional multivariate normal has event_shape `[3]`; its log-prob
              takes a whole 3-vector and returns one number.
            * **batch_shape**: independent, *differently parameterised* copies of the
              distribution held in one object. `Normal(loc=tf.zeros(3), scale=1.)` is three
              scalar normals: batch_shape `[3]`, event_shape `[]`, and its log-prob returns
              three numbers.
            * **sample_shape**: how many i.i.d. draws you ask for, `dist.sample(sample_shape)`.

            The rule: `sample(S)` has shape `S + batch_shape + event_shape`, and `log_prob`
            of it has shape `S + batch_shape`: the event dimensions are reduced, the batch
            dimensions are not. `tfd.Independent` moves batch dimensions into the event;
            `tfd.Sample` makes an event of i.i.d. draws.
            """
        ),
        code(
            """
            sample_shape = [4]
            examples = {
                "Normal(0., 1.)": tfd.Normal(0.0, 1.0),
                "Normal(tf.zeros(3), 1.)": tfd.Normal(tf.zeros(3), 1.0),
                "MultivariateNormalDiag(tf.zeros(3))": tfd.MultivariateNormalDiag(tf.zeros(3)),
                "Independent(Normal(tf.zeros([2, 3]), 1.), 1)": tfd.Independent(tfd.Normal(tf.zeros([2, 3]), 1.0), 1),
                "Sample(Normal(0., 1.), 3)": tfd.Sample(tfd.Normal(0.0, 1.0), 3),
                "Dirichlet(tf.ones([2, 4]))": tfd.Dirichlet(tf.ones([2, 4])),
            }
            shape_rows = {}
            lines = ["| distribution | batch_shape | event_shape | `sample([4])` | `log_prob(sample([4]))` |",
                     "|---|---|---|---|---|"]
            for label, dist in examples.items():
                x = dist.sample(sample_shape, seed=(0, 1))
                row = (dist.batch_shape.as_list(), dist.event_shape.as_list(), x.shape.as_list(),
                       dist.log_prob(x).shape.as_list())
                shape_rows[label] = row
                lines.append(f"| `{label}` | " + " | ".join(f"`{r}`" for r in row) + " |")
            display(Markdown("\\n".join(lines)))
            """
        ),
        md(
            """
            ## Shapes inside a model

            In a joint distribution the shapes of every node meet in one log-prob: the joint
            log-prob adds each node's log-prob part. A node that keeps batch dimensions
            makes the sum a vector, not a number. `tfjoint.check` builds the same table
            for the nodes of a model (at `sample_shape [4]`) and says which nodes leak:
            """
        ),
        code(
            """
            model = tfd.JointDistributionSequential([
                tfd.Normal(0.0, 1.0, name="scalar"),
                tfd.MultivariateNormalDiag(tf.zeros(3), name="vector"),
                tfd.Sample(tfd.Normal(0.0, 1.0), 3, name="iid"),
                tfd.Normal(tf.zeros(3), 1.0, name="batch"),
            ])
            model_report = tfjoint.check(model, sample_shape=(4,), seed=0)
            display(model_report)
            """
        ),
        md(
            """
            Only `batch` leaks: its log-prob part is `[3]` where every other node's is `[]`.
            The report's fix, `tfd.Independent(..., reinterpreted_batch_ndims=1)`, turns
            its batch of three into an event of three:
            """
        ),
        code(
            """
            fixed_model = tfd.JointDistributionSequential([
                tfd.Normal(0.0, 1.0, name="scalar"),
                tfd.MultivariateNormalDiag(tf.zeros(3), name="vector"),
                tfd.Sample(tfd.Normal(0.0, 1.0), 3, name="iid"),
                tfd.Independent(tfd.Normal(tf.zeros(3), 1.0), reinterpreted_batch_ndims=1, name="batch"),
            ])
            fixed_report = tfjoint.check(fixed_model, sample_shape=(4,), seed=0)
            display(fixed_report)
            """
        ),
        md(
            """
            ## Transformed distributions

            A bijector `f` maps a base distribution to a new one: `f(base)` is a
            `tfd.TransformedDistribution` whose draws are `f(x)`. A bijector acts on
            *events*: each has a `forward_min_event_ndims`, the rank of the smallest event
            it transforms (0 for elementwise bijectors such as `Exp`, 1 for
            `FillScaleTriL`, which turns a vector into a lower-triangular matrix). It may
            change the event shape (`[3]` to `[2, 2]`), and its own parameters may carry
            a batch shape, which broadcasts with the base's.

            `tfjoint.trace_bijector(base, bijector)` walks a bijector step by step (a
            `tfb.Chain` in the order its parts are applied, the reverse of the list),
            recording each step's event and batch shapes, then pushes one real draw
            through to confirm them.
            """
        ),
        code(
            """
            lognormal = tfb.Exp()(tfd.Normal(0.0, 1.0))
            print(type(lognormal).__name__, "event_shape", lognormal.event_shape, "batch_shape", lognormal.batch_shape)

            cholesky_trace = tfjoint.trace_bijector(
                tfd.Sample(tfd.Normal(0.0, 1.0), 6),
                tfb.Chain([tfb.TransformDiagonal(tfb.Exp()), tfb.FillScaleTriL(diag_bijector=tfb.Identity())]))
            display(cholesky_trace)

            reshape_trace = tfjoint.trace_bijector(tfd.Sample(tfd.Normal(0.0, 1.0), [2, 3]), tfb.Reshape([6], event_shape_in=[2, 3]))
            display(reshape_trace)
            """
        ),
        md(
            """
            ## Mistakes, and their diagnoses

            ### 1. A bijector that needs a vector, given a scalar

            `FillScaleTriL` needs an event of rank 1. A scalar `Normal` has rank 0. TFP
            lets you build `FillScaleTriL()(Normal(0., 1.))`; the trace says why it cannot
            work, and the fix, which it tried:
            """
        ),
        code(
            """
            rank_trace = tfjoint.trace_bijector(tfd.Normal(0.0, 1.0), tfb.FillScaleTriL())
            display(rank_trace)
            """
        ),
        md(
            """
            With a *batch* of three scalars the trace offers the other way to get a vector
            event, `tfd.Independent`:
            """
        ),
        code(
            """
            batch_rank_trace = tfjoint.trace_bijector(tfd.Normal(tf.zeros(3), 1.0), tfb.FillScaleTriL())
            display(batch_rank_trace)
            """
        ),
        md(
            """
            ### 2. A reshape that counts elements wrong

            Meant: flatten the `[2, 2]` Cholesky factor into a vector of 4. `Reshape([4])`
            reshapes only the *last* dimension by default (`event_shape_in=[-1]`), so TFP
            promises the shape `[2, 4]` and fails only when a draw is made:
            """
        ),
        code(
            """
            wrong_chain = tfb.Chain([tfb.Reshape([4]), tfb.FillScaleTriL()])
            base3 = tfd.Sample(tfd.Normal(0.0, 1.0), 3)
            print("TFP promises event_shape", wrong_chain(base3).event_shape)
            try:
                wrong_chain(base3).sample(seed=(0, 1))
            except tf.errors.InvalidArgumentError as error:
                print("and sample() fails:", str(error).strip().splitlines()[0][:120])
            count_trace = tfjoint.trace_bijector(base3, wrong_chain)
            display(count_trace)
            """
        ),
        code(
            """
            right_chain = tfb.Chain([tfb.Reshape([4], event_shape_in=[2, 2]), tfb.FillScaleTriL()])
            right_trace = tfjoint.trace_bijector(base3, right_chain)
            display(right_trace)
            """
        ),
        md(
            """
            ### 3. A bijector whose parameters change the batch shape

            `tfb.Scale([1., 2., 3.])` on a scalar `Normal` does not make a 3-vector: it
            makes a *batch* of three scalars, because the scale's shape `[3]` is a batch of
            elementwise transforms. That may be what you meant, or not; the trace flags it
            and gives both readings:
            """
        ),
        code(
            """
            batch_trace = tfjoint.trace_bijector(tfd.Normal(0.0, 1.0), tfb.Scale([1.0, 2.0, 3.0]))
            display(batch_trace)
            """
        ),
        md(
            """
            ### 4. Compositions TFP refuses

            Where TFP's own shape inference rejects `bijector(base)`, with a `ValueError`
            that names no step, `trace_bijector` raises a `tfjoint.ShapeError` that names
            the step, the shapes and the fix:
            """
        ),
        code(
            """
            refused = {
                "Reshape([2, 2]) on a scalar": (tfd.Normal(0.0, 1.0), tfb.Reshape([2, 2])),
                "Scale([1., 2., 3.]) on a batch of 2": (tfd.Normal(tf.zeros(2), 1.0), tfb.Scale([1.0, 2.0, 3.0])),
            }
            refusals = {}
            for label, (base, bijector) in refused.items():
                try:
                    tfjoint.trace_bijector(base, bijector)
                except tfjoint.ShapeError as error:
                    refusals[label] = str(error)
                    print(f"--- {label}\\n{error}\\n")
            """
        ),
        md(
            """
            ## The space a sampler sees

            HMC, NUTS and VI move unconstrained real vectors; TFP's
            `experimental_default_event_space_bijector()` maps them to each node's support.
            The map changes shapes too: a Dirichlet over 4 categories is 3 free numbers,
            a 3x3 Cholesky factor of a correlation matrix is 3. `trace_joint_bijector`
            shows it per node, for a model with one observed node:
            """
        ),
        code(
            """
            joint = tfd.JointDistributionNamed(dict(
                scale=tfd.HalfNormal(1.0),
                weights=tfd.Dirichlet(tf.ones(4)),
                corr=tfd.CholeskyLKJ(dimension=3, concentration=2.0),
                y=lambda scale: tfd.Independent(tfd.Normal(tf.zeros(4), scale), 1),
            ))
            space = tfjoint.trace_joint_bijector(joint, observed={"y": tf.zeros(4)})
            display(space)
            """
        ),
        md(
            """
            ## What this notebook asserts

            The shape rule for every example distribution; the leak found at `batch` only
            and gone after the fix; each bijector trace's shapes against TFP's own
            `TransformedDistribution` and a real draw; every mistake diagnosed at the right
            step with the right check; and the unconstrained sizes.
            """
        ),
        code(
            """
            for label, (batch, event, sampled, log_prob) in shape_rows.items():
                assert sampled == sample_shape + batch + event, label
                assert log_prob == sample_shape + batch, label
            assert shape_rows["Normal(tf.zeros(3), 1.)"][:2] == ([3], [])
            assert shape_rows["MultivariateNormalDiag(tf.zeros(3))"][:2] == ([], [3])
            assert shape_rows["Independent(Normal(tf.zeros([2, 3]), 1.), 1)"][:2] == ([2], [3])

            assert {(f.node, f.check) for f in model_report.findings if f.check == "scalar_log_prob"} == {("batch", "scalar_log_prob")}
            assert fixed_report.ok


            def matches_tfp(trace, base, bijector):
                transformed = bijector(base)
                draw = transformed.sample(seed=(1, 2))
                return (trace.ok and trace.event_shape == tuple(transformed.event_shape.as_list())
                        and trace.batch_shape == tuple(transformed.batch_shape.as_list())
                        and tuple(draw.shape.as_list()) == trace.batch_shape + trace.event_shape)


            assert cholesky_trace.event_shape == (3, 3)
            assert matches_tfp(cholesky_trace, tfd.Sample(tfd.Normal(0.0, 1.0), 6),
                               tfb.Chain([tfb.TransformDiagonal(tfb.Exp()), tfb.FillScaleTriL(diag_bijector=tfb.Identity())]))
            assert reshape_trace.event_shape == (6,)
            assert matches_tfp(right_trace, base3, right_chain) and right_trace.event_shape == (4,)

            assert [(f.check, f.verified) for f in rank_trace.findings] == [("event_rank", True)]
            assert "tfd.Sample(base, sample_shape=[3])" in rank_trace.findings[0].fix
            assert "tfd.Independent" in batch_rank_trace.findings[0].fix
            assert [(f.node, f.check) for f in count_trace.findings] == [("1: reshape (Reshape)", "element_count")]
            assert count_trace.steps[1].event_shape_out == (2, 4)
            assert [f.check for f in batch_trace.findings] == ["batch_shape"] and batch_trace.batch_shape == (3,)
            assert set(refusals) == set(refused) and all("Fix:" in m for m in refusals.values())

            assert space.unconstrained_shapes == {"scale": (), "weights": (3,), "corr": (3,)}
            assert space.total_dimension == 7
            print("All assertions hold.")
            """
        ),
    ]


NOTEBOOKS = {
    "autobatched_joint_distributions": autobatched_joint_distributions,
    "vectorized_log_probs": vectorized_log_probs,
    "bayesian_logistic_regression_iris": bayesian_logistic_regression_iris,
    "shapes_through_bijectors": shapes_through_bijectors,
}


def build(name: str, org: str = DEFAULT_ORG) -> nbformat.NotebookNode:
    """Return notebook `name` as an nbformat v4 notebook without outputs, with stable cell ids."""
    nb = nbformat.v4.new_notebook()
    for i, (kind, source) in enumerate(NOTEBOOKS[name](org)):
        cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
        cell.id = f"{name[:40]}-{i:02d}"  # stable ids keep regeneration diff-free
        nb.cells.append(cell)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": [], "toc_visible": True},
    }
    nbformat.validate(nb)
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def path_of(name: str) -> str:
    return os.path.join(COLABS, f"{name}.ipynb")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed notebook differs from the generated one")
    parser.add_argument("--org", default=DEFAULT_ORG, help="GitHub organisation of the tfjoint repository")
    args = parser.parse_args(argv)
    stale = []
    for name in NOTEBOOKS:
        text = render(build(name, args.org))
        path = path_of(name)
        if args.check:
            current = open(path, encoding="utf-8").read() if os.path.exists(path) else None
            if current != text:
                stale.append(path)
            continue
        os.makedirs(COLABS, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {os.path.relpath(path, REPO_ROOT)}")
    if stale:
        print("stale (run scripts/build_notebooks.py): " + ", ".join(os.path.relpath(p, REPO_ROOT) for p in stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
