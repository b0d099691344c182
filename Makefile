# `make demo` and `make test` each do the whole set-up on a fresh machine (Python + pip only).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
OUT    ?= lowranklab-results

.PHONY: demo test test-slow lint bench bench-peers docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,convex,fast,torch,sklearn,docs,dask]'
	touch $(STAMP)

# Every paper's experiments at the quick size, their figures and OUT/report.html.
demo: $(STAMP)
	$(VENV)/bin/lowranklab reproduce --quick --out $(OUT)

test: $(STAMP)
	$(PY) -m ruff check src tests benchmarks examples docs/hooks
	$(PY) -m pytest

# The documentation site, strictly (a broken reference fails).
docs: $(STAMP)
	$(PY) -m mkdocs build --strict

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

bench: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) -m benchmarks.run --suite quick --json bench-quick.json

# Time to accuracy against Pymanopt, ALS, SoftImpute, SCS and Clarabel (the `bench` extra).
bench-peers: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) -m benchmarks.run --suite peers --json bench-peers.json

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache site
