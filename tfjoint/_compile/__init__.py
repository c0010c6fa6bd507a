"""Layer 5, compiling: `jit`, `xla_consistency`, and the choice between XLA and graph mode."""
