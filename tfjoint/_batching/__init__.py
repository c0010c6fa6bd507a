"""Layer 3, batching: fast AutoBatched sample/log_prob, pfor fallbacks, vectorize, rebuilt variants."""
