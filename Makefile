# chargenet: the README's commands. `make run` and `make test` work on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/chargenet_test
SIM_STATIONS ?= 6

.PHONY: run test lint typecheck test-sqlite test-postgres bench bench-cluster schema clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## run: the server on the embedded SQLite database, a demo network and simulated chargers
run: install
	$(BIN)/chargenet migrate
	$(BIN)/chargenet seed --demo
	$(BIN)/chargenet serve --host 127.0.0.1 --port 8000 --simulate mixed --simulate-stations $(SIM_STATIONS)

## test: lint, types, then the whole suite on SQLite and on PostgreSQL
test: lint typecheck test-sqlite test-postgres

lint: install
	$(BIN)/ruff check app tests bench alembic
	$(BIN)/ruff format --check app tests bench alembic

typecheck: install
	$(BIN)/mypy

test-sqlite: install
	env -u DATABASE_URL $(BIN)/pytest -q

test-postgres: install
	DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q

## schema: rewrite schema/schema.graphql from the code
schema: install
	$(BIN)/python -m app.graphql.export > schema/schema.graphql

## bench: every benchmark in quick mode (<= 3 min), one JSON object per figure; FULL=1: full sizes
BENCH_MODE := $(if $(FULL),,--quick)
FULL_NOTE := FULL=1: 10000 OCPP stations take 20-25 min per database on an idle 2-core machine and an hour or more on a shared one (docs/benchmarks.md: Full sizes)
bench: install
	@$(if $(FULL),echo '$(FULL_NOTE)' >&2)
	@$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@$(BIN)/python bench/loadmgmt.py $(BENCH_MODE) --json ../shared/loadmgmt/scenarios/*.json
	@$(BIN)/python bench/pricing.py $(BENCH_MODE)
	@$(BIN)/python bench/ocpp.py $(BENCH_MODE)
	@$(BIN)/python bench/graphql.py $(BENCH_MODE)
	@$(BIN)/python bench/fanout.py $(BENCH_MODE)

## bench-cluster: two instances beside one on PostgreSQL + Redis (127.0.0.1), leader takeover
## (quick ~2 min on the shared 2-core machine, so not part of `make bench`)
bench-cluster: install
	@$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@$(BIN)/python bench/cluster.py $(BENCH_MODE)

clean:
	rm -rf $(VENV) chargenet.db chargenet.db-wal chargenet.db-shm .pytest_cache .mypy_cache .ruff_cache
