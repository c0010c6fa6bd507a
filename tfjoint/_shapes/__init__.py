"""Layer 4, shapes: the joint-model checks and their report, point debugging, bijector traces, graphs, variant comparison."""
