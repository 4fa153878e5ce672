# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo serve screenshots test test-all lint eval bench clean opensearch opensearch-stop opensearch-status

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(VENV)/.lint-stamp: $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	touch $@

## Ruff over src/, tests/ and bench/; mypy over src/ (settings in pyproject.toml).
lint: $(VENV)/.lint-stamp
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

## Index the shipped sample corpus into index/ and run three example searches.
demo: $(STAMP)
	$(BIN)/hnp-search index corpus/
	$(BIN)/hnp-search search "Hà Nội" --limit 3
	$(BIN)/hnp-search search ho tay song to lich --limit 3
	$(BIN)/hnp-search search '"Nguyễn Quốc Toàn"' --from 2024-01-01 --sort -date --limit 3

## The search page and JSON API on the sample corpus: http://127.0.0.1:$(PORT)/ (Ctrl-C stops it).
PORT ?= 8080
serve: $(STAMP)
	$(BIN)/hnp-search index corpus/
	$(BIN)/hnp-search serve --port $(PORT)

## The browser test, saving its screenshots to bench/results/ (the README shows one).
screenshots: $(STAMP)
	HNP_SEARCH_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/test_browser.py

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

## OpenSearch dev node(s) on 127.0.0.1 from Maven Central's artifacts (Java 17 and Maven needed):
## `make opensearch` builds the launcher if needed, starts the node in the background and returns
## once the cluster is green; OS_NODES=2 starts a two-node cluster (HTTP 9200 and 9201) in one JVM.
OS_DIR := dev/opensearch
OS_BUILT := $(OS_DIR)/target/.built
OS_NODES ?= 1
OS_HTTP_PORT ?= 9200
OS_TRANSPORT_PORT ?= 9300
OS_HEAP ?= 1g
OS_TIMEOUT ?= 120
OS_ENV = OS_NODES=$(OS_NODES) OS_HTTP_PORT=$(OS_HTTP_PORT) OS_TRANSPORT_PORT=$(OS_TRANSPORT_PORT) OS_HEAP=$(OS_HEAP) OS_TIMEOUT=$(OS_TIMEOUT)

$(OS_BUILT): $(OS_DIR)/pom.xml $(wildcard $(OS_DIR)/src/main/java/hnp/dev/*.java) $(OS_DIR)/src/main/resources/log4j2.properties
	@command -v mvn >/dev/null || { echo "opensearch: Maven (mvn) is not installed" >&2; exit 1; }
	mvn -B -q -Dstyle.color=never -f $(OS_DIR)/pom.xml clean package
	touch $@

opensearch: $(OS_BUILT)
	@$(OS_ENV) bash $(OS_DIR)/node.sh start

## Stop the dev node(s) and remove their data.
opensearch-stop:
	@$(OS_ENV) bash $(OS_DIR)/node.sh stop

opensearch-status:
	@$(OS_ENV) bash $(OS_DIR)/node.sh status

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
	find index -mindepth 1 ! -name .gitkeep -delete
