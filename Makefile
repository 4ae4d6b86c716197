# The README's two commands: `make demo` and `make test`. Each bootstraps what it needs.
# `make bench` measures speed, round trips and memory (bench/README.md); `make test` runs
# its smoke mode so the bench cannot rot.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: bootstrap venv dist demo test check pytest bench bench-smoke fuzz mutation clean xpi extension-test e2e

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

pytest: bootstrap
	$(PY) -m pytest $(PYTEST_ARGS)

bench: bootstrap
	$(PY) -m bench.run

bench-smoke: bootstrap
	$(PY) -m bench.run --smoke --out /tmp/sma-bench-smoke.json

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
