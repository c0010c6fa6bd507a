"""The package's imports go down the layers only (see DESIGN in the README)."""

import ast
import os

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tfjoint")

# Bottom-up. A module may import modules of its own layer or lower ones.
LAYERS = [
    {"_errors", "_types", "_format"},
    {"_model", "_execution", "_observed", "_builders", "_rebuild"},
    {"_shape_report", "_shapes", "_debug", "_bijectors", "_joint_bijectors", "_autobatch", "_pfor"},
    {"_vectorize", "_graph", "_examples"},
    {"_variants", "_compile", "_xla_consistency"},
    {"infer"},
    {"models"},
    {"_fit", "_cli", "__main__", "__init__", "errors"},  # the front door
]


def _layer(module: str) -> int:
    top = module.split(".")[0]
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"module tfjoint.{module} is in no layer; add it to LAYERS in tests/test_layers.py")


def _modules():
    for root, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                rel = os.path.relpath(path, PACKAGE)[:-3].replace(os.sep, ".")
                yield rel.replace(".__init__", ""), path


def _imports(path):
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (node.module == "tfjoint" or node.module.startswith("tfjoint.")):
            if node.module == "tfjoint":
                for alias in node.names:
                    yield alias.name
            else:
                yield node.module[len("tfjoint."):]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "tfjoint":
                    yield "<tfjoint>"
                elif alias.name.startswith("tfjoint."):
                    yield alias.name[len("tfjoint."):]


def test_layers__imports_only_go_down():
    violations = []
    for module, path in _modules():
        if module == "__init__":
            continue  # the front door imports lazily by name
        mine = _layer(module)
        for imported in _imports(path):
            if imported == "<tfjoint>":
                violations.append(f"{module} imports tfjoint itself; import the module instead")
                continue
            if _layer(imported) > mine:
                violations.append(f"{module} (layer {mine}) imports {imported} (layer {_layer(imported)})")
    assert not violations, "\n".join(violations)
