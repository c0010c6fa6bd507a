"""The main job, `python -m tfjoint fit`, and its seed parity with "TFP on JAX" on Iris."""

import numpy as np
import pytest

from tfjoint import models
from tfjoint.cli import fit as _fit
from tfjoint.infer import _nuts


def test_fit__iris_seed_parity():
    # "TFP on JAX" reports 0.98 training accuracy by Bayesian model averaging and
    # 0.9695 for the average draw; 4 chains x 500 draws after 500 warmup.
    features, labels = models.load_iris()
    model = models.multinomial_logistic_regression.condition(features, observed={"y": labels})
    posterior = _nuts.nuts(model, num_chains=4, num_warmup=500, num_results=500, seed=0, progress=False)
    summary = posterior.summary(warn=False)
    assert np.nanmax(summary.r_hat) < 1.01
    average, bma = _fit.iris_accuracy(posterior, features, labels)
    assert bma >= 0.98
    assert 0.95 <= average <= 0.99


# 2 short chains are enough to exercise the job; their R-hat may warn, which is the point of warnings.
@pytest.mark.filterwarnings("ignore::tfjoint.infer.ConvergenceWarning")
def test_fit__main_job_prints_summary_and_accuracy(capsys):
    status = _fit.main(None, num_chains=2, num_warmup=100, num_results=100, seed=1)
    out = capsys.readouterr().out
    assert status in (0, 1)  # 1: the run worked and its summary warns (a short run's ESS)
    assert (status == 1) == ("Warning" in out or "warning" in out)
    assert "all checks pass" in out and "r_hat" in out and "Bayesian model averaging" in out
