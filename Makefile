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

format:
	$(PYTHON) -m ruff format src tests bench examples
	$(PYTHON) -m ruff check --fix src tests bench examples

bench:
	$(PYTHON) -m bench
