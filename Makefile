# Developer entry points of loyalty_crm; the work is done by scripts/ (see README.md).
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

.DEFAULT_GOAL := help
.PHONY: help setup run test lint i18n bench scale screens clean-cache

help: ## Show this help
	@echo "Targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

setup: ## Install what is missing: system packages, PostgreSQL role, Odoo 18.0 source, Python venv
	@$(ROOT)/scripts/setup.sh

run: ## Serve Odoo + loyalty_crm with demo data on http://localhost:8069 (login admin / admin)
	@$(ROOT)/scripts/run.sh

test: ## Fresh database, all tests (browser tours in headless Chromium), then lint; fails on any skip
	@$(ROOT)/scripts/test.sh

lint: ## ruff check, ruff format --check, pylint-odoo with OCA's mandatory checks
	@$(ROOT)/scripts/lint.sh

i18n: ## Re-export the translation template and merge it into i18n/ru.po
	@$(ROOT)/scripts/i18n.sh

bench: ## Benchmarks at scale in a throwaway database (BENCH_MEMBERS=10000, BENCH_SCALE=full)
	@$(ROOT)/scripts/bench.sh

scale: ## Replica + two odoo-bin servers on one primary, started and removed by the run (bench section scale)
	@BENCH_SECTIONS=scale $(ROOT)/scripts/bench.sh

screens: ## Screenshots of each user's screens from a fresh demo database into docs/screens.md
	@$(ROOT)/scripts/screens.sh

clean-cache: ## Delete ~/.cache/loyalty_crm (Odoo source, venv, files) and the demo database
	@$(ROOT)/scripts/clean-cache.sh
