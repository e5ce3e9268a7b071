PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python)

.PHONY: test test-all lint format bench

test:
	$(PYTHON) -m pytest -q

test-all:
	$(PYTHON) -m pytest -q -m ""

lint:
	$(PYTHON) -m ruff check src tests bench examples
	$(PYTHON) -m ruff format --check src tests bench examples
	$(PYTHON) -m mypy
	$(PYTHON) -c 'import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())'

format:
	$(PYTHON) -m ruff format src tests bench examples
	$(PYTHON) -m ruff check --fix src tests bench examples

bench:
	$(PYTHON) -m bench
