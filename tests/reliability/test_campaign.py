"""The fault campaign's short round (``devtools/campaign.py``; ``make fuzz`` runs the long
one): seeded, time-boxed, and every case must end converged with 0 lost and 0 doubled."""

from __future__ import annotations

from devtools import campaign


def test_the_short_campaign_converges_with_nothing_lost_or_applied_twice() -> None:
    # The budget only guards against a hang: each case runs a fixed number of rounds (about
    # two minutes in all on a quiet machine), so a slow machine must not skip any.
    results = campaign.run(seed=15, scale=1, budget_s=1200)
    print("\n" + campaign.table(results))
    # Every case ran; the long-only ones have their own tests in tests/reliability.
    assert list(results) == [name for name in campaign.CASES if name not in campaign.LONG_ONLY]
    for name, tally in results.items():
        assert tally.tried > 0, name
        assert tally.failures == [], tally.failures
        assert (tally.survived, tally.lost, tally.doubled) == (tally.tried, 0, 0), name
