# `make demo` and `make test` each do the whole set-up on a fresh machine (Python + pip only).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
OUT    ?= lowranklab-results

.PHONY: demo test test-slow lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,convex,fast,dask]'
	touch $(STAMP)

# Every paper's experiments at the quick size, their figures and OUT/report.html.
demo: $(STAMP)
	$(VENV)/bin/lowranklab reproduce --quick --out $(OUT)

test: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m pytest

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

bench: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) -m benchmarks.run --suite quick --json bench-quick.json

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
