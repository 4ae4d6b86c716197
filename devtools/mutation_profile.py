"""A pytest plugin for ``make mutation`` (``-p devtools.mutation_profile``): Hypothesis
derandomized and without its example database, so a mutant's verdict never depends on
the examples an earlier mutant happened to fail. Fewer examples than by default (tests
that set their own count keep it), and no shrinking: a mutant needs one failing example,
not the smallest, and shrinking took minutes per mutant."""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings

settings.register_profile(
    "mutation",
    derandomize=True,
    database=None,
    max_examples=25,
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Example tests first, property tests last: with ``-x`` most mutants die in the fast
    tests, and only a survivor pays for the whole file."""
    items.sort(key=lambda item: item.get_closest_marker("hypothesis") is not None)
