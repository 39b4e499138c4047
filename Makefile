# Two commands do all the set-up on a fresh machine:
#   make run    — the gateway on 127.0.0.1:8080 with the bundled demo upstream
#   make test   — lint + the whole test suite (installs its own Node 22 tools, Debian's Chromium and HAProxy)
# Both create their own virtualenv in .venv; nothing is installed system-wide.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
ARGS   ?=

.PHONY: run test lint node-tools browser haproxy bench bench-compare bench-profile bench-latency bench-fleet bench-search bench-catalog bench-ui screenshots clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

run: $(STAMP)
	$(BIN)/mcpgate serve $(ARGS)

node-tools:
	scripts/install-node-tools.sh
	@scripts/install-node-tools.sh --check >/dev/null  # so the conformance and Inspector tests never skip here

browser:
	scripts/install-browser.sh

haproxy:
	scripts/install-haproxy.sh  # the fleet tests' load balancer (tests/fleet), and deploy/haproxy.cfg's check

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

test: $(STAMP) node-tools browser haproxy lint
	$(BIN)/pytest -n 2 --dist loadfile  # two workers, a test file each: the suite's many child processes leave cores idle

# Issue #9's five workloads side by side with the peers (installed under bench/peers/, ~25 min).
bench: $(STAMP)
	bash bench/peers/install.sh
	$(BIN)/python bench/compare.py
	$(BIN)/python bench/sse_sessions.py
	$(BIN)/python bench/footprint.py

bench-compare: $(STAMP)
	bash bench/peers/install.sh
	$(BIN)/python bench/compare.py

# Where mcpgate's CPU per call goes, by layer (py-spy, installed into bench/peers/.venv-tools).
bench-profile: $(STAMP)
	$(BIN)/python bench/profile.py --workload 3 --concurrency 32
	$(BIN)/python bench/profile.py --workload 1 --concurrency 1

bench-latency: $(STAMP)
	$(BIN)/python bench/latency.py

# One process vs `serve --workers 2` vs two replicas behind HAProxy, and a relayed request (#27).
# Needs the machine's PostgreSQL and Redis, as the fleet tests do.
bench-fleet: $(STAMP) haproxy
	$(BIN)/python bench/fleet.py

bench-search: $(STAMP)
	$(BIN)/python bench/tool_search.py

bench-catalog: $(STAMP)
	$(BIN)/python bench/openapi_catalog.py

# The web UI's pages in Debian's Chromium: bytes transferred and first paint (#29).
bench-ui: $(STAMP) browser
	$(BIN)/python bench/admin_ui.py

# docs/ui/*.png, taken by the web UI's browser tests as they run.
screenshots: $(STAMP) browser
	MCPGATE_SCREENSHOTS=docs/ui $(BIN)/pytest -q -n 2 --dist loadfile tests/admin_ui

clean:
	rm -rf $(VENV) .tools .pytest_cache
