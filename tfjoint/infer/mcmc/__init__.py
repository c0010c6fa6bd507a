"""infer, layer 2: Markov kernels and their adaptation (the NUTS kernel, Stan's warmup schedule, Welford)."""
