"""The documentation site (mkdocs.yml): it builds with ``mkdocs build --strict`` (no
broken link, anchor or API reference, no docstring naming a parameter the signature
lacks), its home page renders in a real browser (Debian's chromium, headless) with the
models table, its API reference covers every public name, and its CLI page is the
parser's own --help."""

import importlib
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

import keras_resnet

ROOT = pathlib.Path(__file__).resolve().parents[2]
API = ROOT / "docs" / "api"
mkdocs = pytest.importorskip("mkdocs", reason="the docs extra (pip install '.[docs]') is not installed")
pytest.importorskip("mkdocstrings_handlers.python", reason="mkdocstrings-python is not installed")

pytestmark = pytest.mark.docs  # optional dependencies: -m 'not ...' leaves them out


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                        str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out


def test_the_site_builds_strict_with_every_page(site):
    for page in ["index.html", "cli.html", "changelog.html", "models.html", "weights.html",
                 "guides/own-images.html", "api/networks.html", "api/deployment.html",
                 "weights/resnet50.html", "repo/examples/finetune_folder.py"]:
        assert (site / page).is_file(), page
    # links that leave docs/ point at copies inside the site, which exist
    guide = (site / "guides" / "pretrained-weights.html").read_text()
    for target in re.findall(r'href="((?:\.\./)+repo/[^"#]+)"', guide):
        assert (site / "guides" / target).resolve().is_file(), target


def _documented():
    """Every object an API page renders (``::: dotted.path``)."""
    names = set()
    for page in API.glob("*.md"):
        names |= set(re.findall(r"^::: ([\w.]+)", page.read_text(), re.M))
    return names


def _public_objects():
    """(label, object) for every public name: the package's lazy table and the
    __all__ of its public subpackages."""
    found = [(f"keras_resnet.{n}", getattr(keras_resnet, n)) for n in keras_resnet.__all__
             if n != "custom_objects"]
    for sub in ("training", "data", "evaluation", "deploy"):
        module = importlib.import_module(f"keras_resnet.{sub}")
        found += [(f"keras_resnet.{sub}.{n}", getattr(module, n)) for n in module.__all__]
    found += [(f"keras_resnet.export.{n}", getattr(keras_resnet.export, n))
              for n in ("saved_model", "onnx", "openvino", "tflite")]
    return found


def test_every_public_name_has_an_api_entry():
    documented = {}
    for path in _documented():
        module, _, attr = path.rpartition(".")
        documented[path] = getattr(importlib.import_module(module), attr)
    missing = [label for label, obj in _public_objects()
               if not any(obj is d for d in documented.values())
               and not isinstance(obj, (str, tuple, dict))]  # constants: described in text
    assert not missing, f"public names without an API entry in docs/api/: {missing}"


def test_the_cli_page_is_the_parsers_help(site):
    from keras_resnet.cli.main import make_parser

    page = (site / "cli.html").read_text()
    parser = make_parser()
    commands = next(a for a in parser._actions if hasattr(a, "choices") and a.choices)
    for name, command in commands.choices.items():
        assert f"keras-resnet {name}" in page, name
        for action in command._actions:
            for flag in action.option_strings:
                assert flag in page, (name, flag)


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="Debian's chromium is not installed (make data installs it)")
def test_the_home_page_shows_the_models_table_in_a_browser(site):
    r = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--dump-dom", (site / "index.html").as_uri()],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    dom = r.stdout
    # the theme's page (header, navigation) ...
    assert "md-header" in dom and "md-nav" in dom and "keras_resnet" in dom
    # ... and the models table is there with the live counts, row by row
    rows = {m.group(1): m.group(0) for m in
            re.finditer(r"<tr>\s*<td>(\w+)</td>.*?</tr>", dom, re.S)}
    for name in ("resnet18", "resnet50", "resnet152", "resnet20", "resnet1202"):
        params = keras_resnet.spec_complexity(keras_resnet.get_spec(name)).params
        assert name in rows and f"{params:,}" in rows[name], name
