# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-all eval bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## Index the shipped sample corpus into index/ and run three example searches.
demo: $(STAMP)
	$(BIN)/hnp-search index corpus/
	$(BIN)/hnp-search search "Hà Nội" --limit 3
	$(BIN)/hnp-search search ho tay song to lich --limit 3
	$(BIN)/hnp-search search '"Nguyễn Quốc Toàn"' --from 2024-01-01 --sort -date --limit 3

## The default test run (big-corpus tests marked slow are left out).
test: $(STAMP)
	$(BIN)/python -m pytest -q

## Every test, the slow ones included.
test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ''

## Retrieval quality beside SQLite FTS5, tantivy and a bigram BM25 (needs ../shared): XQuAD-vi, then
## the typed and known-item queries on dantri. Baomoi too with EVAL_BAOMOI=1 or an index dir
## (EVAL_INDEX_DIR=DIR: DIR/dantri and DIR/baomoi are built once, then reused).
EVAL_INDEX_DIR ?=
EVAL_BAOMOI ?=
eval: $(STAMP)
	$(BIN)/python bench/eval_xquad.py
	$(BIN)/python bench/eval_queries.py \
		--corpus $(if $(or $(EVAL_BAOMOI),$(EVAL_INDEX_DIR)),all,dantri) \
		$(if $(EVAL_INDEX_DIR),--index-dir $(EVAL_INDEX_DIR) --reuse)

## Speed beside SQLite FTS5 on dantri (a few minutes; writes bench/results/speed.md).
bench: $(STAMP)
	$(BIN)/python bench/bench_speed.py --corpus dantri

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
	find index -mindepth 1 ! -name .gitkeep -delete
