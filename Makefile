# Two commands matter on a fresh clone: `make run` and `make test`.
# Everything installs from this repository's own files (pyproject.toml, uv.lock).

SHELL := /bin/bash
PORT ?= 8000
HOST ?= 127.0.0.1
export UV_PYTHON_DOWNLOADS := never

# uv on PATH if there is one, otherwise the copy `make` installs with pip.
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif

.PHONY: run test lint fmt check-migrations diagrams bench uv sync clean-data

uv:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --user uv \
		|| python3 -m pip install --quiet --user --break-system-packages uv

sync: uv
	@$(UV) sync --frozen --quiet

## Run Orderly on the embedded default (no services needed): http://$(HOST):$(PORT)
run: sync
	$(UV) run orderly serve --host $(HOST) --port $(PORT)

## Run the whole test suite (needs the local PostgreSQL, Redis and RabbitMQ)
test: sync
	$(UV) run pytest

## Linters: ruff, formatting, mypy strict, import contracts, diagrams
lint: sync
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
	$(UV) run lint-imports
	bash scripts/check_diagrams.sh
	bash scripts/check_deploy.sh

fmt: sync
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

## Models and migrations agree, and every migration downgrades (scratch database)
check-migrations: sync
	bash scripts/check_migrations.sh

## Re-render the SVGs of the D2 diagrams under docs/
diagrams: sync
	bash scripts/check_diagrams.sh --write

## Benchmarks (bench/README.md): each prints ratios to a baseline run in the same run
bench: sync
	$(UV) run python bench/catalog_read.py
	$(UV) run python bench/reservations.py
	$(UV) run python bench/checkout.py
	$(UV) run python bench/observability_overhead.py

clean-data:
	rm -rf .orderly
