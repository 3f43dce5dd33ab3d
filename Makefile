# The README's two commands: `make run` and `make test`. Both create .venv and install.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast lint bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py ingest/_fastxml.pyx
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, exactly pinned, so nothing pulls a CUDA build of it
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test,train]'
	@touch $(STAMP)

## run: install, load the demo records if the database is empty, index them, show what is stored
run: $(STAMP)
	$(BIN)/medsearch ingest demo --if-empty
	$(BIN)/medsearch index
	$(BIN)/medsearch stats

## test: the whole suite, slow tests included
test: $(STAMP)
	$(BIN)/python -m pytest -q

## test-fast: the inner loop; skips tests marked slow
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check ingest search tests bench

## bench: ingest throughput, BM25 vs rank-bm25, hybrid latency at 10k/100k/1M, rerank latency
bench: $(STAMP)
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_bm25.py
	$(BIN)/python bench/bench_search.py latency
	$(BIN)/python bench/bench_rerank.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
