# The README's two commands: `make run` and `make test`. Both create .venv and install.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8501

.PHONY: run app test test-fast lint bench install browser clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py ingest/_fastxml.pyx
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, exactly pinned, so nothing pulls a CUDA build of it
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test,train,summaries,scale]'
	@touch $(STAMP)

## browser: Debian's chromium for the browser tests (Playwright's own download does not work offline)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: chromium is missing and cannot be installed here (needs root and apt-get); the browser tests will be skipped"; fi; }

## run: install, load the demo records if the database is empty, index them, start the app
run: $(STAMP)
	$(BIN)/medsearch ingest demo --if-empty
	$(BIN)/medsearch index
	$(BIN)/medsearch stats
	@$(MAKE) --no-print-directory app

## app: start the app on the current index (http://$(HOST):$(PORT))
app: $(STAMP)
	@echo "medsearch app: http://$(HOST):$(PORT)  (Ctrl-C stops it)"
	$(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT) \
	  --server.headless true --browser.gatherUsageStats false

## test: the whole suite, slow tests (real models, the browser) included
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n auto --dist loadfile

## test-fast: the inner loop; skips tests marked slow
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadfile -m "not slow"

## lint: ruff on everything, mypy on ingest/, search/, webapp/ (its config: pyproject.toml [tool.mypy])
lint: $(STAMP)
	$(BIN)/ruff check ingest search tests bench webapp app.py
	$(BIN)/mypy

## bench: ingest, BM25 vs rank-bm25, hybrid latency, rerank, query restrictions and engine features,
## similar articles, readers during writes, exports, library, summaries
bench: $(STAMP)
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

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
