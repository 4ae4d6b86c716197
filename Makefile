# The README's two commands: `make demo` and `make test`. Each bootstraps what it needs.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: bootstrap demo test check pytest clean

bootstrap:
	@scripts/bootstrap

demo: bootstrap
	@$(PY) -m devtools.demo

check: bootstrap
	$(VENV)/bin/ruff check host tests devtools
	$(VENV)/bin/ruff format --check host tests devtools
	$(VENV)/bin/mypy

pytest: bootstrap
	$(PY) -m pytest $(PYTEST_ARGS)

test: check pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build host/*.egg-info
