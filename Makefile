# The two commands a fresh machine needs: `make demo` and `make test`.
# The edit loop: `make check` (lint, types and the tests not marked slow, ~3 min).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# pytest-xdist processes: most tests wait on servers, sockets and streams, so more processes
# than the 2 cores keep both busy (README.md, "Development").
TEST_WORKERS ?= 4
PYTEST := $(BIN)/pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal --durations=20

.PHONY: demo test check lint typecheck unit install install-dev faults bench-install bench-peers bench-front

# llama-cpp-python is compiled from source (PyPI has no wheel): only the text library chinwag
# loads, without the image library (mtmd). pip caches the wheel it builds, so only a cold
# install compiles.
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF

# What `make demo` needs: chinwag and its embedded defaults, no test tools, no torch.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) $${CMAKE_ARGS:-}" $(BIN)/python -m pip install --quiet -e .
	touch $@

# Tests, lint and types, and the torch embedding runtime (the extra chinwag[torch]) that the
# suite compares with ONNX. On this machine pip takes torch's CPU wheel from its local files;
# elsewhere see docs/configuration.md (CHINWAG_EMBEDDING_RUNTIME) for PyTorch's CPU index.
$(BIN)/.installed-dev: $(BIN)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) $${CMAKE_ARGS:-}" $(BIN)/python -m pip install --quiet -e '.[dev,torch,mcp]'
	touch $@

# The admin console's front-end libraries (pinned in package-lock.json), served from node_modules.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

install: $(BIN)/.installed node_modules/.package-lock.json

# The Vercel AI SDK, a client the tests drive (tests/openai_api/test_vercel_ai_sdk.py).
VERCEL = tests/clients/vercel
$(VERCEL)/node_modules/.package-lock.json: $(VERCEL)/package.json $(VERCEL)/package-lock.json
	npm ci --prefix $(VERCEL) --no-audit --no-fund
	touch $@

install-dev: install $(BIN)/.installed-dev $(VERCEL)/node_modules/.package-lock.json

demo: install
	$(BIN)/chinwag demo

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(BIN)/.installed-dev
	$(BIN)/mypy

# Every database test runs on SQLite and on PostgreSQL (CHINWAG_TEST_POSTGRES_DSN, default
# postgresql://postgres@127.0.0.1:5432/test). pytest exits 5 if nothing ran, which fails make.
unit: install-dev
	$(PYTEST)

test: lint typecheck unit

check: lint typecheck install-dev
	$(PYTEST) -m "not slow"

# The fault-injection suite of issue 14 at full counts (long: see docs/operations.md, "Fault
# injection"); `python -m tests.faults --reduced` is the version the unit tests run.
faults: install-dev
	$(BIN)/python -m tests.faults

# What `make install` costs a new user: cold and warm install time, .venv size (bench/README.md).
bench-install:
	bash bench/install_size.sh

# The side-by-side streaming table of bench/README.md: chinwag (the `main`-only bot, SQLite) next
# to the fake LLM alone (`direct`), LangServe, LiteLLM, minimal and passthrough, one core each
# (~6 min; QUICK=1: a ~2 min smoke run). Builds the harness venvs (/tmp/venv-*, the locked
# versions of bench/locks) when they are missing. Table: bench/results/peers-<stamp>-sqlite.md.
bench-peers: $(BIN)/.installed
	IF_MISSING=1 LOCKED=1 bash bench/harness/setup_venvs.sh
	CHINWAG_VENV=$(abspath $(VENV)) NAME=peers DBS=sqlite BOTS="$${BOTS-plain}" PROFILE_DBS= \
	  CHINWAG_PEERS="langserve litellm minimal passthrough" bash bench/run_streaming.sh

# bench/README.md's front table (issue 33): chinwag next to the raw byte relay and the minimal
# relay at c = 1, 10, 50, 200 on SQLite and PostgreSQL, with commits per answer (~20 min).
bench-front: $(BIN)/.installed
	IF_MISSING=1 LOCKED=1 bash bench/harness/setup_venvs.sh
	CHINWAG_VENV=$(abspath $(VENV)) $(BIN)/python bench/front_page.py --readme
