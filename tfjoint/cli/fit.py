"""The main job: check a model's shapes, run compiled NUTS, print the summary.

`tfjoint fit` runs it on the bundled default, Bayesian multinomial logistic
regression on Iris (the "TFP on JAX" demo), and also prints the training
accuracy of the average draw and of Bayesian model averaging. Convergence
problems are printed once, in the summary, and make the exit code 1.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Optional, Tuple

import numpy as np

from tfjoint import models
from tfjoint._base import format as _format
from tfjoint._model import spec as _spec
from tfjoint._shapes import check as _check
from tfjoint.infer import _nuts, _predictive

__all__ = ["main", "iris_accuracy"]


def iris_accuracy(posterior: Any, features: np.ndarray, labels: np.ndarray) -> tuple:
    """Training accuracy of the average draw and of Bayesian model averaging.

    Args:
      posterior: a `Posterior` of `models.multinomial_logistic_regression`.
      features: `[num_examples, num_features]`.
      labels: `[num_examples]` integer classes.

    Returns:
      `(average_draw_accuracy, bma_accuracy)`: the mean over draws of each
      draw's accuracy, and the accuracy of the draw-averaged class probabilities.
    """
    w = posterior.draws["w"].reshape((-1,) + posterior.draws["w"].shape[2:])
    b = posterior.draws["b"].reshape((-1,) + posterior.draws["b"].shape[2:])
    logits = np.einsum("nf,dfk->dnk", features, w) + b[:, None, :]
    per_draw = np.mean(np.argmax(logits, axis=-1) == labels[None, :], axis=-1)
    probs = _predictive.predict_proba(models.multinomial_logistic_regression(features), posterior, node="y")
    bma = float(np.mean(np.argmax(probs, axis=-1) == labels))
    return float(np.mean(per_draw)), bma


def main(
    model: Optional[Tuple[str, Any]],
    *,
    num_chains: int,
    num_warmup: int,
    num_results: int,
    seed: int,
    fmt: str = "text",
    output: Optional[str] = None,
    summary_json: Optional[str] = None,
    progress: bool = True,
) -> int:
    """Run the main job on `(label, model)` (or Iris when `None`); return the process exit code.

    0 when the checks pass and the summary shows no convergence problem, 1
    otherwise, 2 for a model with nothing observed (a usage error).
    """

    def show(report: Any) -> None:
        print(report.to_markdown() if fmt == "markdown" else str(report))

    iris = model is None
    if model is None:
        features, labels = models.load_iris()
        label = "bundled:iris"
        pinned = models.multinomial_logistic_regression.condition(features, observed={"y": labels})
        print("Bundled default: Bayesian multinomial logistic regression on Iris (TFP on JAX).\n")
    else:
        label, pinned = model
    spec = _spec.normalize(pinned)
    if not spec.pins:
        print(
            f"tfjoint fit: {label} has no observed data (it is not pinned).\n"
            "  Fix: give a pinned model, e.g. jd.experimental_pin(y=data) or builder.condition(..., observed={'y': data}).",
            file=sys.stderr,
        )
        return 2
    report = _check.check(pinned, seed=seed)
    show(report)
    if not report.ok:
        return 1
    # The run's convergence problems are printed once, in the summary (it lists all of them), not also as warnings.
    posterior = _nuts.nuts(pinned, num_chains=num_chains, num_warmup=num_warmup, num_results=num_results, seed=seed,
                           progress=progress, warn=False)
    summary = posterior.summary(warn=False)
    show(summary)
    print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in posterior.timings.items()))
    if iris:
        average, bma = iris_accuracy(posterior, features, labels)
        print(f"\nTraining accuracy: average draw {average:.4f}, Bayesian model averaging {bma:.4f}")
        print("(TFP on JAX reports 0.9695 and 0.98.)")
    if output is not None:
        posterior.save(output)
        print(f"wrote {output}")
    if summary_json is not None:
        with open(summary_json, "w") as f:
            json.dump({"schema": 1, "command": "fit", "target": label, "ok": summary.ok, **_format.to_jsonable(summary),
                       "seed": list(posterior.seed), "settings": _format.to_jsonable(dict(posterior.settings))}, f,
                      indent=2)
        print(f"wrote {summary_json}")
    return 0 if summary.ok else 1
