"""infer, layer 5: the compiled, chunked, resumable driver (programs, progress, checkpoints)."""
