"""infer, layer 4: chains or data across `tf.distribute` replicas."""
