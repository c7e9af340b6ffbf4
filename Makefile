# Two commands do all set-up on a fresh machine:
#   make demo   train a ResNet-20 on the embedded Fashion-MNIST sample (the main job)
#   make test   the whole test suite, slow tests included (what CI runs)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
BASE   := $(VENV)/.base-stamp

.PHONY: install demo test test-fast test-durations bench data docs clean

# The demo needs the package and its core dependencies only (TensorFlow, Keras,
# LiteRT...): no test or benchmark extras, no JAX, no PyTorch.
$(BASE): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $(BASE)

$(STAMP): $(BASE) pyproject.toml
	$(PY) -m pip install -q -e ".[test,bench,docs]"
	@# PyTorch and timm are the references of the converter tests (torchvision .pth,
	@# timm .safetensors, ResNet-D, dilation). timm imports torchvision, and PyPI's
	@# torchvision needs the matching PyPI torch (a CUDA build that runs on the CPU;
	@# this project's machines keep both wheels on disk). Without them those tests skip.
	$(PY) -m pip install -q "torch==2.14.1" "torchvision==0.29.1" "timm>=1.0" \
	  || echo "note: torch/torchvision/timm not installed; the PyTorch parity tests will be skipped"
	@# That torch brings triton (GPU kernels for torch.compile, unused on a CPU), whose
	@# library crashes the process (SIGSEGV) when imported after TensorFlow, as
	@# `import torchvision` does; without triton, torch leaves it alone.
	$(PY) -m pip uninstall -q -y triton 2>/dev/null || true
	touch $(STAMP)

install: $(STAMP)

# Optional Debian packages: the full Fashion-MNIST idx files (with WordNet, for the
# ImageNet class names' check) and chromium (the docs site's browser test); the tests
# that need them are skipped without them. Best effort: needs root and apt.
DEBS := $(if $(wildcard /usr/share/datasets/fashion-mnist),,dataset-fashion-mnist wordnet-base) \
        $(if $(shell command -v chromium),,chromium)
data:
	@if [ -z "$(strip $(DEBS))" ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && apt-get install -y -qq $(strip $(DEBS))) >/dev/null 2>&1 \
	    || echo "note: could not install $(strip $(DEBS)); tests needing them will be skipped"; \
	else echo "note: $(strip $(DEBS)) not installed; tests needing them will be skipped"; fi

# The documentation site, built into site/ (tests/project/test_docs_site.py builds it too)
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict

demo: $(BASE)
	$(VENV)/bin/keras-resnet demo

# JOBS test processes (pytest-xdist), whole files to each: most tests spend their time in
# single-threaded work (tracing, converting, starting subprocesses), so two processes on
# two cores finish sooner than one. JOBS=0: no xdist, everything in pytest's process.
JOBS ?= 2

test: $(STAMP) data
	$(PY) -m pytest -n $(JOBS) --dist loadfile --durations=25

# Everything but the slow tier (tests/conftest.py: marked slow, or measured at 3 s or
# more in tests/durations.json): what a developer runs while working.
test-fast: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadfile -m "not slow" --durations=10

# A full run that records every test's time into tests/durations.json (the slow tier)
test-durations: $(STAMP) data
	$(PY) -m pytest -n $(JOBS) --dist loadfile --durations=0 | tee .test-durations.log
	$(PY) scripts/record_test_durations.py .test-durations.log

bench: $(STAMP)
	$(PY) bench/inference_vs_keras_applications.py

clean:
	rm -rf $(VENV) runs .pytest_cache
