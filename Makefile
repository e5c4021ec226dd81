# Every target sets up .venv itself: a fresh Debian / Raspberry Pi OS with python3,
# python3-venv and make is enough.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test bench lint media clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,kiosk,dev]'
	touch $(STAMP)

## make demo: SQLite server with a demo venue, admin and one enrolled kiosk (headless without a display)
demo: $(STAMP)
	$(BIN)/python -m signage_server.demo

## make test: the whole suite on SQLite, and on PostgreSQL too when SIGNAGE_TEST_DATABASE_URL is set
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadgroup $(PYTEST_ARGS)

## make bench: benchmarks that print figures and their ratio to a ceiling measured in the same run
bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .

media: $(STAMP)
	$(BIN)/python -m media.build

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
