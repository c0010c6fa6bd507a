"""Layer 1: the only home of private TensorFlow and TFP access.

Every private name or behaviour tfjoint relies on is reached through a small
function here, whose docstring names the TF / TFP versions it was written
against (TF 2.21, TFP 0.25). `tests/test_tfp.py` holds one canary per
contract: when an installed TF or TFP changes one, that test fails and names
it. No function here changes process-wide state beyond the call that needs
it. A test (`tests/test_layers.py`) fails if private access appears anywhere
else in the package.
"""
