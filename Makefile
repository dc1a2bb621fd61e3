# Two commands for a newcomer:
#   make demo    set up .venv, render the sample issue (and dry-run its delivery)
#   make check   set up .venv, then format check, lint, types, import contracts and every test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SAMPLE := issues/2026-01.yaml

.PHONY: demo check setup test lint screenshots clean

$(BIN)/newsletter: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

setup: $(BIN)/newsletter

demo: setup
	$(BIN)/newsletter validate $(SAMPLE)
	$(BIN)/newsletter render $(SAMPLE) -o build
	$(BIN)/newsletter send $(SAMPLE) --recipients issues/voorbeeld-leden.csv --dry-run
	@echo "Open build/2026-01.html in a browser to see the sample issue; the dry run's messages are in outbox/2026-01/."

lint: setup
	$(BIN)/ruff format --check newsletter tests benchmarks scripts
	$(BIN)/ruff check newsletter tests benchmarks scripts
	$(BIN)/mypy newsletter
	$(BIN)/lint-imports

# html-validate for tests/test_html_validate.py, when npm is there (the test skips without node).
HTMLVALIDATE := tests/html-validate/node_modules/.package-lock.json
$(HTMLVALIDATE): tests/html-validate/package-lock.json
	cd tests/html-validate && npm ci --no-audit --no-fund --loglevel=error

# Every test under coverage (the CLI's subprocesses too, see [tool.coverage] in pyproject.toml); the
# report ends the run and fails below the floor set there.
test: setup $(if $(shell command -v npm),$(HTMLVALIDATE))
	rm -rf build/coverage
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

check: lint test

screenshots: demo
	$(BIN)/python scripts/screenshots.py build/2026-01.html docs

clean:
	rm -rf build outbox site .newsletter-cache .mypy_cache .ruff_cache .pytest_cache
