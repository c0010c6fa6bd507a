"""Layer 2, reading a model: node specs, node-by-node execution, observed data, builders."""
