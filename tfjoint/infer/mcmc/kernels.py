"""The Markov kernels `nuts` and `hmc` run: one small object per method.

A kernel object holds a method's own settings and answers what the driver
asks of any method: build the TFP transition kernel for a log-density, a step
size and a diagonal metric; read the per-draw statistics (ArviZ names) out
of its results; count its leapfrog steps; say where in its results the
gradients live (for the metric restarts of `adaptation`); and finish the
statistics and settings of a run. The driver (`tfjoint.infer.run`) never asks
which method it runs.

`Nuts` runs TFP's `tfp.mcmc.NoUTurnSampler`, or tfjoint's
`FlatNoUTurnSampler` (the same Markov kernel, cheaper per step under XLA; see
`Nuts.implementation`). `Hmc` runs `tfp.mcmc.HamiltonianMonteCarlo` with a
fixed number of leapfrog steps.

A diagonal metric reaches TFP's kernels as a reparametrisation: the kernel
moves `z` with an identity mass matrix on `z -> log_prob(scale * z)`, which
is HMC on `x = scale * z` with inverse mass matrix `diag(scale**2)`.
`FlatNoUTurnSampler` takes the metric itself (`applies_metric`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar, Dict, Literal, Optional

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint.infer.mcmc import nuts_kernel as _nuts_kernel

__all__ = ["Nuts", "Hmc", "Kernel", "Implementation", "KERNELS"]

# Which code runs NUTS: "auto" picks (see `Nuts.implementation`).
Kernel = Literal["auto", "tfp", "tfjoint"]
KERNELS = ("auto", "tfp", "tfjoint")
Implementation = Literal["tfp", "tfjoint"]

_HMC_DIVERGENCE = -1000.0  # Stan's static HMC criterion: an energy error above 1000 (or NaN)


def _acceptance(log_accept_ratio: tf.Tensor) -> tf.Tensor:
    return tf.where(
        tf.math.is_nan(log_accept_ratio), tf.zeros_like(log_accept_ratio), tf.exp(tf.minimum(log_accept_ratio, 0.0))
    )


@dataclasses.dataclass(frozen=True)
class Nuts:
    """The No-U-Turn sampler: a tree of at most `2**max_tree_depth - 1` leapfrog steps per iteration.

    Attributes:
      max_tree_depth: the tree's maximum depth.
      kernel: "auto" (tfjoint's kernel when the chunk is compiled with XLA on
        one device and its leaf buffers fit, TFP's otherwise), "tfp" or "tfjoint".

    Examples:
      >>> import tensorflow as tf
      >>> nuts = Nuts(max_tree_depth=6)
      >>> nuts.implementation(xla=True, across_replicas=False, num_chains=4, dim=3, dtype=tf.float32)
      'tfjoint'
      >>> k = nuts.make(lambda x: -0.5 * tf.reduce_sum(x**2, -1), tf.constant(0.5), scale=None,
      ...               implementation="tfp", xla=False)
      >>> type(k).__name__, k.max_tree_depth
      ('NoUTurnSampler', 6)
    """

    max_tree_depth: int = 10
    kernel: Kernel = "auto"
    method: ClassVar[str] = "nuts"

    def implementation(self, *, xla: bool, across_replicas: bool, num_chains: int, dim: int, dtype: tf.DType) -> Implementation:
        """Which code runs: tfjoint's `FlatNoUTurnSampler` or TFP's `NoUTurnSampler`.

        Under "auto", tfjoint's when the chunk is compiled with XLA on one
        device (there it costs less per step) and its leaf buffers fit
        (`nuts_kernel.fits`); TFP's in graph mode, where TFP's costs less per
        step, and across replicas, where TFP's is the kernel the replica
        tests check against one device.
        """
        if self.kernel == "tfp" or (self.kernel == "auto" and (not xla or across_replicas)):
            return "tfp"
        return "tfjoint" if _nuts_kernel.fits(num_chains, dim, self.max_tree_depth, dtype) else "tfp"

    @staticmethod
    def applies_metric(implementation: Implementation) -> bool:
        """Whether the kernel takes the metric itself (else it runs on the rescaled target)."""
        return implementation == "tfjoint"

    def make(
        self,
        log_prob: Callable[[tf.Tensor], tf.Tensor],
        step_size: tf.Tensor,
        *,
        scale: Optional[tf.Tensor],
        implementation: Implementation,
        xla: bool,
    ) -> tfp.mcmc.TransitionKernel:
        """The transition kernel on `log_prob` (`scale`: the metric, for a kernel that `applies_metric`)."""
        if implementation == "tfjoint":
            return _nuts_kernel.FlatNoUTurnSampler(
                log_prob, step_size, max_tree_depth=self.max_tree_depth,
                rng_alg=_nuts_kernel.rng_for(xla, step_size.dtype), scale=scale,
            )
        return tfp.mcmc.NoUTurnSampler(log_prob, step_size, max_tree_depth=self.max_tree_depth)

    def stats(self, results: Any) -> Dict[str, tf.Tensor]:
        """Per-chain statistics of one transition, ArviZ names."""
        acceptance = _acceptance(results.log_accept_ratio)
        return {
            "diverging": results.has_divergence,
            "acceptance_rate": acceptance,
            "n_steps": tf.cast(results.leapfrogs_taken, tf.int32),
            "lp": results.target_log_prob,
            "energy": results.energy,
        }

    def leapfrogs(self, stats: Dict[str, tf.Tensor]) -> Any:
        """Leapfrog steps the batched transition cost: the most any chain took."""
        return tf.cast(tf.reduce_max(stats["n_steps"]), tf.int64)

    @staticmethod
    def with_gradients(results: Any, update: Callable[[Any], Any]) -> Any:
        """`results` with `update` applied to the part that holds the gradients and the step size."""
        return update(results)

    def finish(self, sample_stats: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Add what the run's statistics derive from the recorded ones: the tree depth."""
        n = sample_stats["n_steps"]
        sample_stats["tree_depth"] = np.where(n > 0, np.floor(np.log2(np.maximum(n, 1))).astype(np.int32) + 1, 0)
        return sample_stats

    def settings(self, implementation: Implementation) -> Dict[str, Any]:
        """The method's entries in `Posterior.settings`."""
        return {"max_tree_depth": self.max_tree_depth, "kernel": implementation}


@dataclasses.dataclass(frozen=True)
class Hmc:
    """Hamiltonian Monte Carlo with a fixed number of leapfrog steps per iteration.

    Attributes:
      num_leapfrog_steps: leapfrog steps per iteration.

    Examples:
      >>> import tensorflow as tf
      >>> k = Hmc(num_leapfrog_steps=4).make(lambda x: -0.5 * tf.reduce_sum(x**2, -1), tf.constant(0.5),
      ...                                    scale=None, implementation="tfp", xla=False)
      >>> type(k).__name__, k.num_leapfrog_steps
      ('HamiltonianMonteCarlo', 4)
    """

    num_leapfrog_steps: int = 16
    method: ClassVar[str] = "hmc"

    def implementation(self, **unused: Any) -> Implementation:
        """Always TFP's `HamiltonianMonteCarlo`."""
        del unused
        return "tfp"

    @staticmethod
    def applies_metric(implementation: Implementation) -> bool:
        """TFP's kernel runs on the rescaled target."""
        del implementation
        return False

    def make(
        self,
        log_prob: Callable[[tf.Tensor], tf.Tensor],
        step_size: tf.Tensor,
        *,
        scale: Optional[tf.Tensor],
        implementation: Implementation,
        xla: bool,
    ) -> tfp.mcmc.TransitionKernel:
        """`tfp.mcmc.HamiltonianMonteCarlo` on `log_prob` (the metric is applied by rescaling the target)."""
        del scale, implementation, xla
        return tfp.mcmc.HamiltonianMonteCarlo(
            log_prob, step_size, num_leapfrog_steps=self.num_leapfrog_steps, store_parameters_in_results=True
        )

    def stats(self, results: Any) -> Dict[str, tf.Tensor]:
        """Per-chain statistics of one transition; `diverging` is an energy error above 1000 (Stan's)."""
        lar = results.log_accept_ratio
        acceptance = _acceptance(lar)
        return {
            "diverging": ~(lar > _HMC_DIVERGENCE),
            "acceptance_rate": acceptance,
            "lp": results.accepted_results.target_log_prob,
        }

    def leapfrogs(self, stats: Dict[str, tf.Tensor]) -> Any:
        """Leapfrog steps per transition: always `num_leapfrog_steps`."""
        del stats
        return self.num_leapfrog_steps

    @staticmethod
    def with_gradients(results: Any, update: Callable[[Any], Any]) -> Any:
        """`results` with `update` applied to the accepted state's results (gradients, step size)."""
        return results._replace(accepted_results=update(results.accepted_results))

    def finish(self, sample_stats: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Record the (constant) leapfrog steps per draw."""
        sample_stats["n_steps"] = np.full(sample_stats["diverging"].shape, self.num_leapfrog_steps, np.int32)
        return sample_stats

    def settings(self, implementation: Implementation) -> Dict[str, Any]:
        """The method's entries in `Posterior.settings`."""
        del implementation
        return {"num_leapfrog_steps": self.num_leapfrog_steps}
