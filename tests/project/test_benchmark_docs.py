"""docs/benchmarks.md shows what the benchmarks measured: every table that
bench/tables.py builds from the committed JSON results appears in it verbatim (so no
number there was edited by hand or left behind after a rerun), every figure it links
exists, every command it gives names a script in the repo, and it sends no reader to
code that was removed. Runs no benchmark."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
# Removed with the home-made inference engine (OpenVINO, ONNX Runtime and LiteRT run
# the models now): nothing on the page may point at them.
REMOVED = ("bench/batch1_paths", "keras_resnet/native", "keras_resnet.native",
           "native_kernels", "keras_resnet.onnxgraph", "onnxgraph.py", 'backend="native"',
           'backend="tf"', "export._LiteRunner")


def _generated_tables():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "tables.py"),
                          str(ROOT / "docs" / "bench")],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    tables = []
    for block in out.split("<!--")[1:]:
        name, body = block.split("-->", 1)
        tables += [(name.strip(), t.strip()) for t in body.strip().split("\n\n") if t.strip()]
    return tables


def test_every_generated_table_is_in_the_doc_verbatim():
    doc = DOC.read_text()
    tables = _generated_tables()
    names = {n for n, _ in tables}
    assert {"inference_backends.json", "train_throughput_vs_torch.json",
            "pipeline_vs_step.json"} <= names
    stale = [f"{n}: {t.splitlines()[0][:70]}" for n, t in tables if t not in doc]
    assert not stale, f"tables in docs/benchmarks.md differ from bench/tables.py: {stale}"


def test_linked_figures_and_results_exist():
    doc = DOC.read_text()
    links = re.findall(r"\]\((bench/[^)]+)\)", doc)
    assert "bench/inference_backends.png" in links and "bench/inference_backends.json" in links
    missing = [l for l in links if not (ROOT / "docs" / l).is_file()]
    assert not missing, missing


def test_every_benchmark_command_names_a_script_in_the_repo():
    doc = DOC.read_text()
    scripts = set(re.findall(r"python (bench/\w+\.py)", doc))
    assert {"bench/inference_backends.py", "bench/fma_peak.py"} <= scripts
    missing = [s for s in scripts if not (ROOT / s).is_file()]
    assert not missing, missing


def test_no_mention_of_removed_code():
    doc = DOC.read_text()
    found = [name for name in REMOVED if name in doc]
    assert not found, f"docs/benchmarks.md still names removed code: {found}"
