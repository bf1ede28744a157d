# mamori — the one entry point. `make demo` runs the main job; `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := ./scripts/uv.sh
RUN := $(UV) run --frozen

.PHONY: help bootstrap system-deps assets sync demo serve test lint types fmt i18n bench bench-commitments bench-publishing bench-portal bench-ledger bench-posture clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

bootstrap: ## Install uv with pip when it is missing
	@$(UV) --version >/dev/null

system-deps: ## Debian packages for PDFs and tests (CJK fonts, poppler-utils, PostgreSQL, Chromium)
	@./scripts/system-deps.sh

assets: ## Fetch the pinned htmx release the portal serves (checked by SHA-256)
	@./scripts/fetch-assets.sh

sync: bootstrap assets ## Create .venv from uv.lock
	@$(UV) sync --frozen --quiet

demo: system-deps sync ## Set up, load the demo provider, evaluate, write whitepapers, serve on 127.0.0.1:8000
	@$(RUN) mamori demo

serve: sync ## Serve the portal
	@$(RUN) mamori serve

test: system-deps sync lint types ## Lint, type-check and run the whole suite on SQLite and PostgreSQL
	@$(RUN) pytest -q

lint: sync ## ruff lint and format check
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .

types: sync ## mypy (disallow_untyped_defs)
	@$(RUN) mypy

fmt: sync ## Format the code
	@$(RUN) ruff format .
	@$(RUN) ruff check --fix .

i18n: sync ## Re-extract messages and update the ja/en catalogs
	@$(RUN) pybabel extract -F babel.cfg -k N_ -k _ --no-location --sort-output -o src/mamori/locale/messages.pot src
	@$(RUN) pybabel update -i src/mamori/locale/messages.pot -d src/mamori/locale -D messages --no-fuzzy-matching --ignore-obsolete

bench: bench-commitments bench-publishing bench-portal bench-ledger bench-posture ## Every benchmark

bench-commitments: sync ## Evaluate a generated provider (200 services, 2,000 tenants)
	@$(RUN) python bench/bench_commitments.py $(ARGS)

bench-publishing: sync ## Render the whitepaper PDF in ja and en
	@$(RUN) python bench/bench_publishing.py $(ARGS)

bench-portal: sync ## Dashboard and list pages with 1,000 tenants and 10,000 users through the real server
	@$(RUN) python bench/bench_portal.py $(ARGS)

bench-ledger: sync ## Ledger bulk and HTTP ingest, verify and purge (--full: 10 million events)
	@$(RUN) python bench/bench_ledger.py $(ARGS)

bench-posture: sync ## Evaluate 100,000 generated cloud resources; collect a moto-backed account
	@$(RUN) python bench/bench_posture.py $(ARGS)

clean: ## Remove generated files (keeps ./var)
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
