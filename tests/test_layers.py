"""The package's imports go down the layers only (the README's Design section draws them)."""

import ast
import os

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tfjoint")

# Bottom-up. A module may import modules of its own layer or of lower ones. A
# layer is a subpackage (every module under it) or, for the front door, single
# modules; infer's sublayers come between `_compile` and `models`.
LAYERS = [
    "_base",  # errors, argument types, formatting, stack frames
    "_tfp",  # the only home of private TF/TFP access
    "_model",  # reading a model: spec, execution, observed data, builders
    "_batching",  # autobatched sample/log_prob, pfor fallbacks, vectorize, variants
    "_shapes",  # check, reports, debug, bijector traces, graph, variant comparison
    "_compile",  # jit, xla_consistency, XLA or graph mode
    "infer.target",  # the flat unconstrained target and its signature
    "infer.mcmc",  # kernels and adaptation
    "infer.results",  # Posterior, summaries, diagnostics, ArviZ
    "infer.distribute",  # chains or data across replicas
    "infer.run",  # the chunked, compiled, resumable driver
    "infer",  # the inference entry points (nuts, hmc, vi, map_estimate, predictive)
    "models",  # ready-made builders and bundled data
    "cli",  # the command line
    "",  # the front door: __init__, __main__, errors, testing
]


def _layer(module: str) -> int:
    """The index in LAYERS of the longest layer prefix of `module` (a dotted path under tfjoint)."""
    best = None
    for i, layer in enumerate(LAYERS):
        if layer and (module == layer or module.startswith(layer + ".")):
            if best is None or len(layer) > len(LAYERS[best]):
                best = i
    if best is not None:
        return best
    if module in ("__init__", "__main__", "errors", "testing", "<tfjoint>"):
        return len(LAYERS) - 1
    raise AssertionError(f"module tfjoint.{module} is in no layer; add it to LAYERS in tests/test_layers.py")


def _modules():
    for root, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                rel = os.path.relpath(path, PACKAGE)[:-3].replace(os.sep, ".")
                yield rel, path


def _imports(path):
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (node.module == "tfjoint" or node.module.startswith("tfjoint.")):
            base = node.module[len("tfjoint."):] if node.module != "tfjoint" else ""
            for alias in node.names:
                # `from tfjoint._base import errors` imports the module _base.errors
                yield f"{base}.{alias.name}" if base else alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "tfjoint":
                    yield "<tfjoint>"
                elif alias.name.startswith("tfjoint."):
                    yield alias.name[len("tfjoint."):]


def test_layers__every_module_is_in_a_layer():
    for module, _ in _modules():
        _layer(module.replace(".__init__", ""))


def test_layers__imports_only_go_down():
    violations = []
    for module, path in _modules():
        if module == "__init__":
            continue  # the front door imports lazily by name
        mine = _layer(module.replace(".__init__", ""))
        for imported in _imports(path):
            if imported == "<tfjoint>":
                violations.append(f"{module} imports tfjoint itself; import the module instead")
                continue
            if _layer(imported) > mine:
                violations.append(f"{module} ({LAYERS[mine] or 'front door'}) imports {imported} "
                                  f"({LAYERS[_layer(imported)] or 'front door'})")
    assert not violations, "\n".join(violations)


def test_layers__top_level_holds_at_most_six_modules_besides_subpackages():
    modules = [f for f in os.listdir(PACKAGE) if f.endswith(".py")]
    assert len(modules) <= 6, modules


# Attributes with a leading underscore that are public API of Python's namedtuple.
_NAMEDTUPLE_API = {"_asdict", "_replace", "_fields", "_make"}


def _private_accesses(path):
    """`(line, text)` of private TF/TFP access in one module (see the test below)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    own = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
           and n.module and n.module.startswith("tfjoint") for a in n.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("tensorflow", "tensorflow_probability") \
                and ".python" in node.module:
            yield node.lineno, f"from {node.module} import ..."
        elif isinstance(node, ast.Attribute):
            if node.attr == "__internal__":
                yield node.lineno, ast.unparse(node)
            elif node.attr.startswith("_") and not node.attr.startswith("__") and node.attr not in _NAMEDTUPLE_API:
                value = node.value
                if isinstance(value, ast.Name) and (value.id in ("self", "cls") or value.id in own):
                    continue  # an object's own state, or a tfjoint module's name
                if isinstance(value, ast.Name) and value.id == "sys" and node.attr == "_getframe":
                    continue
                if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super":
                    continue  # a method of the class's own base (an override), not TF's or TFP's
                yield node.lineno, ast.unparse(node)[:80]


def test_layers__private_tf_and_tfp_access_only_in_tfp():
    found = []
    for module, path in _modules():
        if module.startswith("_tfp."):
            continue
        found += [f"tfjoint/{module.replace('.', '/')}.py:{line}: {text}" for line, text in _private_accesses(path)]
    assert not found, "private access outside tfjoint/_tfp/ (add a function there):\n" + "\n".join(found)
