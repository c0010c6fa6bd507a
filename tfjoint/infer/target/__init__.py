"""infer, layer 1: a pinned joint model as one flat unconstrained log-density, and its cacheable signature."""
