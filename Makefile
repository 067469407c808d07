# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit install faults

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The admin console's front-end libraries (pinned in package-lock.json), served from node_modules.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

install: $(BIN)/.installed node_modules/.package-lock.json

demo: $(BIN)/.installed node_modules/.package-lock.json
	$(BIN)/chinwag demo

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(BIN)/.installed
	$(BIN)/mypy

# Runs every database test on SQLite and on PostgreSQL (CHINWAG_TEST_POSTGRES_DSN,
# default postgresql://postgres@127.0.0.1:5432/test). pytest exits 5 if nothing ran.
unit: $(BIN)/.installed node_modules/.package-lock.json
	$(BIN)/pytest -p no:cacheprovider

test: lint typecheck unit

# The fault-injection suite of issue 14 at full counts (long: see docs/operations.md, "Fault
# injection"); `python -m tests.faults --reduced` is the version the unit tests run.
faults: $(BIN)/.installed
	$(BIN)/python -m tests.faults

# The side-by-side streaming table of bench/README.md: chinwag (the `main`-only bot, SQLite) next
# to the fake LLM alone (`direct`), LangServe, LiteLLM, minimal and passthrough, one core each
# (~6 min; QUICK=1: a ~2 min smoke run). Builds the harness venvs (/tmp/venv-*, the locked
# versions of bench/locks) when they are missing. Table: bench/results/peers-<stamp>-sqlite.md.
.PHONY: bench-peers
bench-peers: $(BIN)/.installed
	IF_MISSING=1 LOCKED=1 bash bench/harness/setup_venvs.sh
	CHINWAG_VENV=$(abspath $(VENV)) NAME=peers DBS=sqlite BOTS="$${BOTS-plain}" PROFILE_DBS= \
	  CHINWAG_PEERS="langserve litellm minimal passthrough" bash bench/run_streaming.sh
