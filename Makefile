# Quick start:  make run   (server on the embedded SQLite default)
#               make test  (the whole suite, then the linters)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run tui test pytest lint format clean js-deps

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/chat-server $(ARGS)

tui: $(STAMP)
	$(BIN)/chat-tui $(ARGS)

# node_modules for the JavaScript interop tests (the tutorial's Socket.IO client)
tests/js/node_modules/.installed: tests/js/package.json
	cd tests/js && npm install --silent --no-audit --no-fund
	touch $@

js-deps: tests/js/node_modules/.installed

pytest: $(STAMP) js-deps
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: pytest lint

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) tests/js/node_modules .pytest_cache .mypy_cache .ruff_cache
