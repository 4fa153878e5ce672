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

## Retrieval quality on XQuAD-vi beside SQLite FTS5 (needs ../shared).
eval: $(STAMP)
	$(BIN)/python bench/eval_xquad.py

## Speed beside SQLite FTS5 on dantri (a few minutes; writes bench/results/speed.md).
bench: $(STAMP)
	$(BIN)/python bench/bench_speed.py --corpus dantri

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
	find index -mindepth 1 ! -name .gitkeep -delete
