# The README's two commands: `make demo` and `make test`. Each bootstraps what it needs.
# `make bench` measures speed, round trips and memory (bench/README.md); `make test` runs
# its smoke mode so the bench cannot rot.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: bootstrap venv demo test check pytest bench bench-smoke clean

bootstrap:
	@scripts/bootstrap

venv:
	@scripts/bootstrap --venv-only

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

test: check pytest bench-smoke

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build host/*.egg-info
