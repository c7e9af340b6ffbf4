"""The package's layout is its architecture: imports flow one way, with no cycle.

Every ``import`` in the package is read with ``ast`` (imports inside functions and
``if TYPE_CHECKING`` blocks included) and resolved to the module it names. Each module
belongs to a part of the package with a rank; a module may import its own part or a
part of lower rank, never a peer of equal rank or a part above it.
"""

import ast
import importlib
import pathlib
import subprocess
import sys

import pytest

import keras_resnet
from tests.paths import FIXTURES

PACKAGE = pathlib.Path(keras_resnet.__file__).parent

# rank: what a part may build on. Parts of equal rank are peers and independent.
RANKS = {
    "_version": 0, "_lazy": 0, "io": 0,        # helpers that import nothing of ours
    "numerics": 0,
    "cpu": 0,
    "data": 1, "arch": 1,                      # input pipelines; the networks
    "preprocessing": 1.5,                      # Preprocessing: the input normalisation
                                               # (its layers come from arch)
    "pretrained": 2,                           # weights, their preprocessing and labels
    "rundir": 2,                               # the run directory's format (train writes,
                                               # predict/evaluate/export read)
    "zoo": 3, "compat": 3,                     # build(), constructors; the 0.2.0 shim
    "tasks": 4, "evaluation": 4, "deploy": 4,  # what is done with a network
    "constructors": 4,                         # ResNet18() ... ResNet200D() over build()
    "applications": 5,                         # keras.applications' family modules
    "training": 5,                             # uses evaluation (curves)
    "workflows": 5,                            # run directories and datasets through
                                               # deploy: export a run, classify files
    "demo": 6,                                 # train + evaluate + export
    "cli": 7,                                  # argument parsing
    "__init__": 8,                             # the lazy public API
    "__main__": 8,                             # python -m keras_resnet: the cli
    # files that stand for a module elsewhere (0.2.0's paths, keras_resnet.export)
    "models": 8, "blocks": 8, "classifiers": 8, "layers": 8, "export": 8,
}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    rest = module.split(".")[1:]
    return rest[0] if rest else "__init__"


def all_modules() -> dict[str, pathlib.Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(module: str, path: pathlib.Path, known) -> set[str]:
    """The package modules that ``module`` imports anywhere in its file."""
    is_package = path.name == "__init__.py"
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # "from . import blocks" imports the submodule blocks
            targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in known else target
                       for a in node.names]
        else:
            continue
        found.update(t for t in targets if t.split(".")[0] == "keras_resnet")
    found.discard(module)
    return found


def import_graph():
    modules = all_modules()
    return {m: imports_of(m, p, modules) for m, p in modules.items()}


def test_every_part_has_a_rank():
    parts = {part_of(m) for m in all_modules()}
    assert parts <= set(RANKS), f"parts without a rank in RANKS: {parts - set(RANKS)}"


def test_imports_flow_one_way():
    graph = import_graph()
    wrong = []
    for module, targets in graph.items():
        for target in targets:
            if target not in graph:
                wrong.append(f"{module} imports {target}, which does not exist")
                continue
            a, b = part_of(module), part_of(target)
            if a != b and RANKS[b] >= RANKS[a]:
                wrong.append(f"{module} ({a}, rank {RANKS[a]}) imports {target} "
                             f"({b}, rank {RANKS[b]})")
    assert not wrong, "imports against the layer order:\n" + "\n".join(sorted(wrong))


# deploy/ takes Keras models and numpy arrays: the workflows that load this repository's
# datasets and networks live in keras_resnet.workflows, above it.
DEPLOY_NEVER_IMPORTS = ("keras_resnet.data", "keras_resnet.zoo", "keras_resnet.workflows")


def test_deploy_imports_no_data_zoo_or_workflows():
    graph = import_graph()
    wrong = sorted(f"{m} imports {t}" for m, targets in graph.items()
                   if part_of(m) == "deploy" for t in targets
                   if t.startswith(tuple(f"{p}." for p in DEPLOY_NEVER_IMPORTS))
                   or t in DEPLOY_NEVER_IMPORTS)
    assert not wrong, "deploy/ must not load datasets or networks:\n" + "\n".join(wrong)


def test_importing_deploy_loads_no_data_zoo_or_workflows():
    """Run time too (the static rule above cannot see importlib): every deploy module
    imported, and nothing of data/, zoo or workflows came with it."""
    deploy = sorted(m for m in all_modules() if part_of(m) == "deploy")
    code = (f"import importlib, sys\nfor m in {deploy!r}: importlib.import_module(m)\n"
            f"print([m for m in sys.modules if m.startswith({DEPLOY_NEVER_IMPORTS!r})])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split("\n")[-2] == "[]", r.stdout[-2000:]


def test_workflows_moved_out_of_deploy_still_import_from_there():
    """export_trained and classify_files moved to keras_resnet.workflows; the old paths
    resolve to the same objects, for callers."""
    from keras_resnet import workflows
    from keras_resnet.deploy import export, predictor
    from keras_resnet.deploy.export import export_trained
    from keras_resnet.deploy.predictor import classify_files

    assert export_trained is workflows.export_trained and export.FORMATS is workflows.FORMATS
    assert classify_files is workflows.classify_files
    assert predictor.FAST_PATH_IMAGES == workflows.FAST_PATH_IMAGES
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        export.nonexistent


def find_cycle(graph):
    """One import cycle as a list of modules, or None (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checks_catch_a_cycle_and_an_upward_import():
    # the same functions on a made-up graph: they would fail on a real cycle
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert RANKS[part_of("keras_resnet.arch.builder")] < RANKS[part_of("keras_resnet.zoo")]


# keras-resnet 0.2.0's module paths, and the exports' short path: each file stands for
# the module it names (the same object)
KEPT_PATHS = {"models": "compat.models", "blocks": "compat.blocks",
              "classifiers": "compat.classifiers", "layers": "arch.layers",
              "export": "deploy.export"}
# paths of an unreleased flat layout (0.1.0), no longer importable
DROPPED_PATHS = ("specs", "builder", "complexity", "paper", "classes", "backbones",
                 "analysis", "tuning", "inference", "fileio", "saving")


@pytest.mark.parametrize("old, new", sorted(KEPT_PATHS.items()))
def test_kept_module_paths_are_the_modules_they_name(old, new):
    code = (f"import importlib, keras_resnet\n"
            f"moved = importlib.import_module('keras_resnet.{old}')\n"
            f"assert moved is importlib.import_module('keras_resnet.{new}'), moved\n"
            f"assert keras_resnet.{old} is moved\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)  # a fresh process: the first import takes the path
    assert r.returncode == 0, r.stderr[-2000:]


@pytest.mark.parametrize("old", DROPPED_PATHS)
def test_paths_of_the_unreleased_flat_layout_are_gone(old):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"keras_resnet.{old}")
    with pytest.raises(AttributeError):
        getattr(keras_resnet, old)


def test_importing_the_package_patches_no_keras_class():
    code = ("import keras\n"
            "before = {n: dict(vars(c)) for n, c in vars(keras.layers).items() "
            "if isinstance(c, type)}\n"
            "import keras_resnet, keras_resnet.training, keras_resnet.layers\n"
            "keras_resnet.build('resnet8')\n"
            "after = {n: dict(vars(c)) for n, c in vars(keras.layers).items() "
            "if isinstance(c, type)}\n"
            "changed = [n for n in before if before[n] != after[n]]\n"
            "assert not changed, changed\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


def test_a_keras_file_of_the_flat_layout_still_loads(tmp_path):
    """tests/fixtures/frozen_layers_0.1.0.keras was saved by the flat layout (0.1.0): its
    frozen layers are recorded under the module path ``keras_resnet.layers``."""
    data = FIXTURES
    code = (
        "import sys, numpy as np, keras_resnet\n"
        "m = keras_resnet.load_model(sys.argv[1])\n"
        "x = np.linspace(0, 1, 2 * 8 * 8 * 3, dtype='float32').reshape(2, 8, 8, 3)\n"
        "err = float(np.abs(np.asarray(m(x, training=True)) - np.load(sys.argv[2])).max())\n"
        "m.trainable = True\n"
        "bn, conv = m.get_layer('frozen_bn'), m.get_layer('frozen_conv')\n"
        "print(err, bn.trainable, conv.trainable, type(bn).__module__)\n")
    r = subprocess.run([sys.executable, "-c", code, str(data / "frozen_layers_0.1.0.keras"),
                        str(data / "frozen_layers_0.1.0.outputs.npy")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    err, bn_trainable, conv_trainable, module = r.stdout.split()[-4:]
    assert float(err) <= 1e-6  # frozen BN: moving statistics even with training=True
    assert bn_trainable == conv_trainable == "False"
    assert module == "keras_resnet.arch.layers"


def test_every_public_name_resolves():
    for name in keras_resnet.__all__:
        assert getattr(keras_resnet, name) is not None, name
    # the module paths the README documents
    for path in ("export", "models", "layers", "data", "training", "evaluation", "deploy"):
        assert importlib.import_module(f"keras_resnet.{path}") is getattr(keras_resnet, path)
    assert keras_resnet.export.onnx is keras_resnet.deploy.export.onnx
    assert keras_resnet.custom_objects["BatchNormalization"] is \
        keras_resnet.layers.BatchNormalization
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        keras_resnet.nonexistent
