# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup proto run test test-unit test-integration test-e2e bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP) proto

proto: $(STAMP)
	$(BIN)/python -m antt.contracts.gen

run: setup
	$(BIN)/antt dev --demo

test: setup
	$(BIN)/pytest

test-unit: setup
	$(BIN)/pytest -m "unit or contract"

test-integration: setup
	$(BIN)/pytest -m integration

test-e2e: setup
	$(BIN)/pytest -m e2e

bench: setup
	$(BIN)/antt bench --scale 0.05

clean:
	rm -rf $(VENV) var .pytest_cache
	find antt -name '*_pb2*.py*' -delete
