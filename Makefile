# hepdl developer entry points. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.hepdl-installed
# energyflow 1.4.0 (the EFP reference for a cross-check test and a benchmark) imports only with numpy<2
EFVENV ?= .venv-energyflow
EFSTAMP := $(EFVENV)/.installed

.PHONY: demo test test-all test-latest lock lint bench install browser weaver spark clean

# torch is pinned and installed first: an open range pulls several GB of CUDA packages on a CPU
# machine. pythia8mc is pinned in pyproject.toml (8.317.2 has a wheel for Python 3.11).
# Every other package comes at the version in constraints.txt, the set the tests passed with:
# a new release upstream cannot change hepdl's behaviour under the user. `make test-latest` tries
# the newest releases in a separate venv; `make lock` then moves constraints.txt on purpose.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test,deploy]"
	touch $(STAMP)

LATEST ?= .venv-latest
test-latest: $(EFSTAMP)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q --upgrade pip
	$(LATEST)/bin/python -m pip install -q torch==2.13.0
	$(LATEST)/bin/python -m pip install -q --upgrade --upgrade-strategy eager -e ".[test,deploy]" torch==2.13.0
	$(LATEST)/bin/python -m pytest -q -m "not slow and not gpu"

lock: $(STAMP)
	( head -2 constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^hepdl' | sed 's/^torch==\(.*\)+cpu/torch==\1/' ) > constraints.txt.new
	mv constraints.txt.new constraints.txt

$(EFSTAMP):
	$(PYTHON) -m venv $(EFVENV)
	$(EFVENV)/bin/python -m pip install -q "numpy<2" energyflow==1.4.0
	touch $(EFSTAMP)

install: $(STAMP)

# weaver-core, the field's reference trainer, in its own venv for benchmarks/bench_vs_weaver.py
# (torch pinned there too: an open range would pull the CUDA build)
WVENV ?= .venv-weaver
WVSTAMP := $(WVENV)/.installed
$(WVSTAMP):
	$(PYTHON) -m venv $(WVENV)
	$(WVENV)/bin/python -m pip install -q -c constraints.txt torch==2.13.0
	$(WVENV)/bin/python -m pip install -q weaver-core==0.5.3 torch==2.13.0
	touch $(WVSTAMP)

weaver: $(WVSTAMP)

# hepdl.spark (optional): pyspark in .venv, and Debian's Java 17 runtime where apt-get runs as root
spark: $(STAMP)
	@if command -v java >/dev/null 2>&1; then echo "java: present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -q && apt-get install -y -q --no-install-recommends openjdk-17-jre-headless) >/dev/null 2>&1 \
	  && echo "java: installed" || echo "java: could not be installed; the Spark tests will skip"; \
	else echo "java: not installed (needs root and apt-get); the Spark tests will skip"; fi
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[spark]" torch==2.13.0

# Chromium renders the report pages in tests/test_report_browser.py (which skips without it):
# Debian's package where apt-get runs as root; elsewhere it says so and changes nothing.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then echo "chromium: present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -q && apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core) >/dev/null 2>&1 \
	  && echo "chromium: installed" || echo "chromium: could not be installed; the browser test will skip"; \
	else echo "chromium: not installed (needs root and apt-get); the browser test will skip"; fi

demo: $(STAMP)
	$(BIN)/hepdl run top-tagging --preset quick

test: $(STAMP) $(EFSTAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -m "not slow and not gpu" --durations=10

test-all: $(STAMP) $(EFSTAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

# each script prints one JSON line of figures on stdout (progress and notes on stderr);
# bench_inference uses the newest runs/jet-classes run, or trains a small one itself
bench: $(STAMP) $(EFSTAMP) $(WVSTAMP)
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_features.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_higgs.py
	$(BIN)/python benchmarks/bench_inference.py
	$(BIN)/python benchmarks/bench_vs_weaver.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_explain.py

clean:
	rm -rf $(VENV) $(EFVENV) $(WVENV) $(LATEST) build *.egg-info src/*.egg-info .pytest_cache
