# celltrace — developer entry points. `make run` and `make test` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export CELLTRACE_DATA_DIR ?= $(CURDIR)/var

.PHONY: help venv run test test-fast bench lint format openapi messages clean

help:
	@echo "make run      set up (venv, database, demo data) and serve on http://127.0.0.1:8000"
	@echo "make test     the whole suite (CELLTRACE_TEST_DATABASE=postgres for PostgreSQL)"
	@echo "make bench    every benchmark in bench/"
	@echo "make lint     ruff, mypy, migrations and schema drift checks"
	@echo "make openapi  regenerate docs/openapi.json"
	@echo "make messages regenerate and compile the Chinese translation catalogue"

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,flow]'
	touch $(STAMP)

run: venv
	$(BIN)/celltrace setup --demo
	$(BIN)/celltrace serve

test: venv
	$(BIN)/python -m pytest -n 2 --dist loadgroup

test-fast: venv
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not slow and not browser"

bench: venv
	@for b in ledger bank qc assays metabolism; do \
	  if [ -f bench/$$b.py ]; then echo "== bench.$$b"; $(BIN)/python -m bench.$$b || exit 1; fi; \
	done

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	DJANGO_SETTINGS_MODULE=celltrace.config.test $(BIN)/python -m django makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=celltrace.config.test $(BIN)/python -m django check --fail-level WARNING

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

openapi: venv
	DJANGO_SETTINGS_MODULE=celltrace.config.test $(BIN)/python -m django export_openapi_schema \
	  --api celltrace.api.api.api --indent 2 --sorted --output docs/openapi.json

messages: venv
	cd src/celltrace && DJANGO_SETTINGS_MODULE=celltrace.config.test ../../$(BIN)/python -m django \
	  makemessages -l zh_Hans --ignore "assays/*" --ignore "*/migrations/*" && \
	  DJANGO_SETTINGS_MODULE=celltrace.config.test ../../$(BIN)/python -m django compilemessages -l zh_Hans

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache
