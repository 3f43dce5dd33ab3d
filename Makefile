# The README's two commands: `make run` and `make test`. Both create .venv and install the
# exact versions of a lock file (requirements/*.lock, with hashes), then the project itself.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
HOST   ?= 127.0.0.1
PORT   ?= 8501
API_PORT ?= 8000
# What `make run` needs: the default install plus the app, the summary models (local, or an endpoint) and the HTTP API.
RUN_EXTRAS := app,summaries,api,endpoint
# What `make test` needs: every extra, so that no test is skipped for a missing package.
DEV_EXTRAS := app,summaries,api,endpoint,llamacpp,torch,train,test,scale
RUN_STAMP  := $(VENV)/.installed-run
DEV_STAMP  := $(VENV)/.installed-dev
PROJECT_FILES := pyproject.toml
# torch's CPU build (dev lock only): from this machine's wheel folder where it lies there,
# else from PyTorch's CPU index (PyPI's Linux torch is the CUDA build, several GB).
TORCH_INDEX := $(if $(wildcard /opt/wheels/torch-2.13.0*),,--extra-index-url https://download.pytorch.org/whl/cpu)

.PHONY: run app api test test-fast lint bench install install-dev train-install browser lock lock-check clean

## install: the runtime environment (`make run`): no torch, no test or training packages
install: $(RUN_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(RUN_STAMP): $(VENV)/bin/python requirements/run.lock $(PROJECT_FILES)
	$(PIP) install --quiet --require-hashes -r requirements/run.lock
	$(PIP) install --quiet --no-deps -e '.[$(RUN_EXTRAS)]'
	@touch $@

## install-dev: everything the tests, the linters and training need (requirements/dev.lock)
install-dev: $(DEV_STAMP)

$(DEV_STAMP): $(VENV)/bin/python requirements/dev.lock $(PROJECT_FILES)
	$(PIP) install --quiet --require-hashes $(TORCH_INDEX) -r requirements/dev.lock
	$(PIP) install --quiet --no-deps -e '.[$(DEV_EXTRAS)]'
	@touch $@ $(RUN_STAMP)

## train-install: the training environment (the train extra: torch, datasets, accelerate, onnx)
train-install: $(DEV_STAMP)

## browser: Debian's chromium for the browser tests (Playwright's own download does not work offline)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: chromium is missing and cannot be installed here (needs root and apt-get); the browser tests will be skipped"; fi; }

## run: install, load the demo records if a demo folder is configured and the store is empty,
## index them, start the app (with no records, the app opens on its first-run screen)
run: $(RUN_STAMP)
	$(BIN)/medsearch ingest demo --if-empty --if-present
	$(BIN)/medsearch index --if-records
	@$(MAKE) --no-print-directory app

## app: start the app on the current index (http://$(HOST):$(PORT))
app: $(RUN_STAMP)
	@echo "medsearch app: http://$(HOST):$(PORT)  (Ctrl-C stops it)"
	$(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT) \
	  --server.headless true --browser.gatherUsageStats false

## api: start the HTTP API on the current index (http://$(HOST):$(API_PORT); docs/api.md)
api: $(RUN_STAMP)
	$(BIN)/medsearch serve --host $(HOST) --port $(API_PORT)

## test: the whole suite, slow tests (real models, the browser) included
test: $(DEV_STAMP) browser
	$(BIN)/python -m pytest -q -n auto --dist loadfile

## test-strict: `make test` where any skipped test is a failure (what CI runs)
test-strict: $(DEV_STAMP) browser
	MEDSEARCH_STRICT_TESTS=1 $(BIN)/python -m pytest -q -n auto --dist loadfile

## test-fast: the inner loop; skips tests marked slow
test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadfile -m "not slow"

## lint: ruff on everything, mypy on ingest/, search/, webapp/ (its config: pyproject.toml [tool.mypy])
lint: $(DEV_STAMP)
	$(BIN)/ruff check ingest search tests bench webapp app.py
	$(BIN)/mypy

## lock: write requirements/*.lock from pyproject.toml's ranges (uv; existing pins are kept
## unless LOCK_UPGRADE=--upgrade); lock-check: fail where pyproject.toml and the locks disagree
lock: $(VENV)/bin/python
	$(PIP) install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --quiet --all-extras --generate-hashes $(LOCK_UPGRADE) \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --override requirements/overrides.txt \
	  $(if $(wildcard /opt/wheels),--find-links /opt/wheels,--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match) \
	  -o requirements/dev.lock
	$(BIN)/uv pip compile pyproject.toml --quiet --extra app --extra summaries --generate-hashes \
	  --extra api --extra endpoint --python-version 3.11 --universal -c requirements/dev.lock -o requirements/run.lock

lock-check: $(DEV_STAMP)
	$(BIN)/python -m pytest -q tests/test_lock.py

## bench: ingest, BM25 vs rank-bm25, hybrid latency, rerank, query restrictions and engine features,
## similar articles, readers during writes, exports, library, summaries
bench: $(DEV_STAMP)
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_bm25.py
	$(BIN)/python bench/bench_search.py latency
	$(BIN)/python bench/bench_rerank.py
	$(BIN)/python bench/bench_query.py
	$(BIN)/python bench/bench_query_engine.py
	$(BIN)/python bench/bench_similar.py
	$(BIN)/python bench/bench_readers.py
	$(BIN)/python bench/bench_export.py
	$(BIN)/python bench/bench_library.py
	$(BIN)/python bench/bench_summaries.py run
	$(BIN)/python bench/bench_summaries.py report
	$(BIN)/python bench/bench_findings.py
	$(BIN)/python bench/bench_api.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
