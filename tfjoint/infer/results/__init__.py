"""infer, layer 3: what a run returns: `Posterior`, summaries, convergence diagnostics, ArviZ."""
