# GroupGuard: `make run` sets up and runs the bot; `make test` sets up and runs the checks and tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench bench-filter bench-qq bench-qq-raid bench-images bench-sweep \
	check-config clean \
	services services-stop test-services

$(STAMP): pyproject.toml requirements.lock setup.py rules/text/_prepare.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -c requirements.lock -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)  ## set up, then run the bot (config.toml, else config.example.toml)
	$(BIN)/python bot.py $(ARGS)

check-config: $(STAMP)
	$(BIN)/python bot.py check-config $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest  ## set up, then lint, type-check and run every test

services:  ## start the test PostgreSQL and Redis on 127.0.0.1 (installs them on Debian as root)
	scripts/test-services.sh start

services-stop:
	scripts/test-services.sh stop

test-services: services  ## `make test` with the PostgreSQL and Redis tests required (what CI runs)
	eval "$$(scripts/test-services.sh env)" && GROUPGUARD_REQUIRE_SERVICES=1 $(MAKE) test

bench: bench-filter bench-qq  ## print performance and quality figures (not a test)

bench-filter: $(STAMP)  ## content filter: throughput, baselines, quality on the corpus
	$(BIN)/python -m bench.filter

bench-qq: $(STAMP)  ## QQ end to end over a real WebSocket: events/s and latency (10%, then the raid mix)
	$(BIN)/python -m bench.qq_e2e
	$(MAKE) --no-print-directory bench-qq-raid

bench-qq-raid: $(STAMP)  ## QQ end to end, raid mix: 30% violations at 3,500 events/s (target p99 < 50 ms)
	$(BIN)/python -m bench.qq_e2e --rate 3500 --violations 0.3 --runs 3 --marginal

bench-images: $(STAMP)  ## pictures: per-stage cost, cold start, cache, OCR tuning; QQ text latency with pictures at 5/s
	$(BIN)/python -m bench.images $(ARGS)
	$(BIN)/python -m bench.qq_e2e --images-per-s 5 --rate 2005

bench-sweep: $(STAMP)  ## a ban swept across 50 QQ groups of 500 members (fake NapCat)
	$(BIN)/python -m bench.protection_sweep

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache rules/text/*.so
