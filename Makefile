# The README's two commands: `make demo` and `make test`. Each bootstraps what it needs.
# `make bench` measures speed, round trips and memory (bench/README.md); `make test` runs
# its smoke mode so the bench cannot rot.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: bootstrap venv dist demo test check pytest bench bench-smoke bench-peers fuzz mutation clean xpi extension-test e2e

bootstrap:
	@scripts/bootstrap

venv:
	@scripts/bootstrap --venv-only

# The host as a wheel (dist/sma_host-<version>-py3-none-any.whl), for users without the
# source folder: README, "Install from a wheel".
dist: venv
	rm -f dist/sma_host-*.whl
	$(PY) -m pip wheel -q --disable-pip-version-check --no-deps --wheel-dir dist .

demo: bootstrap
	@$(PY) -m devtools.demo

check: bootstrap
	$(VENV)/bin/ruff check host tests devtools bench
	$(VENV)/bin/ruff format --check host tests devtools bench
	$(VENV)/bin/mypy

# Three worker processes (pytest-xdist): the suite mostly waits on servers and hosts.
# Work stealing keeps each module's server fixtures on few workers. PYTEST_ARGS=-n0 runs
# it in one process.
PYTEST_WORKERS ?= 3
pytest: bootstrap
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: bootstrap
	$(PY) -m bench.run

bench-smoke: bootstrap
	$(PY) -m bench.run --smoke --out /tmp/sma-bench-smoke.json

# Side by side with Delta Chat (bench/README.md, "Peers"): Delta Chat's RPC server and
# client and aiosmtpd go into a venv of their own under build/, never into .venv.
# Not part of `make test` (a download, and minutes).
PEERS_VENV := build/peers-venv
DELTACHAT_VERSION ?= 2.65.0
PEERS_ARGS ?=

$(PEERS_VENV)/.installed-$(DELTACHAT_VERSION):
	rm -rf $(PEERS_VENV)
	python3 -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q --disable-pip-version-check \
		deltachat-rpc-server==$(DELTACHAT_VERSION) deltachat-rpc-client==$(DELTACHAT_VERSION) \
		'aiosmtpd>=1.4,<2'
	touch $@

bench-peers: bootstrap $(PEERS_VENV)/.installed-$(DELTACHAT_VERSION)
	$(PY) -m bench.peers --peers-python $(PEERS_VENV)/bin/python $(PEERS_ARGS)

# The fault campaign's long run (devtools/campaign.py): prints the summary table and
# writes docs/reliability.md. `make test` runs a short round (tests/reliability).
fuzz: bootstrap
	$(PY) -m devtools.campaign --long --out docs/reliability.md

# Mutation testing of protocol/ and native/ (devtools/mutation.py): mutmut 2.x in its own
# venv (build/mutation-venv), so `make test` does not carry it. Prints the per-module table
# and writes docs/mutation.md; results are cached per module. MODULES=protocol/codec.py
# runs only those (no doc). Not part of `make test`: it runs for tens of minutes.
mutation: bootstrap
	nice -n 10 $(PY) -m devtools.mutation $(MODULES)

# The add-on (extension/): npm ci only when node_modules is missing or older than the lock
# file (npm ci rewrites node_modules/.package-lock.json, the stamp).
extension/node_modules/.package-lock.json: extension/package-lock.json
	cd extension && npm ci --no-audit --no-fund

xpi: extension/node_modules/.package-lock.json
	cd extension && npm run build

extension-test: bootstrap extension/node_modules/.package-lock.json
	cd extension && npm run lint && npm test

# The add-on in a real headless Thunderbird (tests/e2e): installs thunderbird (as root) and
# marionette-driver when missing, builds the XPI, runs the scenarios against Dovecot.
e2e: bootstrap
	@scripts/e2e $(PYTEST_ARGS)

test: check pytest bench-smoke extension-test e2e

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build host/*.egg-info dist extension/node_modules
