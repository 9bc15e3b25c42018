# celltrace — developer entry points. `make run` and `make test` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export CELLTRACE_DATA_DIR ?= $(CURDIR)/var

.PHONY: help venv run test test-fast bench bench-load lint format openapi messages clean

help:
	@echo "make run        set up (venv, database, demo data) and serve on http://127.0.0.1:8000"
	@echo "make test       the whole suite (CELLTRACE_TEST_DATABASE=postgres for PostgreSQL)"
	@echo "make test-fast  the suite without the tests marked slow or browser"
	@echo "make bench      every benchmark in bench/ except those in BENCH_EXCLUDE ($(BENCH_EXCLUDE))"
	@echo "make bench-load the loopback load test bench/load.py (demo set-up takes minutes)"
	@echo "make lint       ruff, ruff format --check, mypy --strict, makemigrations --check, system checks"
	@echo "make format     ruff --fix and ruff format"
	@echo "make openapi    regenerate docs/openapi.json"
	@echo "make messages   regenerate and compile the Chinese translation catalogue"
	@echo "make clean      remove .venv and the build and lint caches"

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

# `make bench` runs every bench/<name>.py that has a main block, except the names in
# BENCH_EXCLUDE: load is a loopback load test whose demo set-up alone takes several minutes
# (docs/development.md, "Benchmarks"); it runs with `make bench-load`.
BENCH_EXCLUDE ?= load

bench: venv
	@for f in bench/*.py; do \
	  b=$$(basename $$f .py); \
	  case " $(BENCH_EXCLUDE) " in *" $$b "*) continue;; esac; \
	  grep -q '^if __name__ == "__main__":' $$f || continue; \
	  echo "== bench.$$b"; $(BIN)/python -m bench.$$b || exit 1; \
	done

bench-load: venv
	$(BIN)/python -m bench.load

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
