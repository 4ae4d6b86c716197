"""The method catalogue: names, and whether a method works on one account.

Kept free of heavy imports: the stdio loop needs it to answer ``hello`` at start-up.
Account-bound methods run on that account's worker thread, one at a time, so a slow
server delays only its own account.
"""

from __future__ import annotations

#: method name → bound to the ``account`` param
METHODS: dict[str, bool] = {
    "hello": False,
    "account.configure": True,
    "sma.join": True,
    "sma.status": True,
    "sma.sync": True,
    "account.key.set": True,
    "account.key.get": True,
    "account.token": True,
    "pair.request": True,
    "pair.accept": True,
    "pair.list": True,
    "pair.cancel": True,
    "keys.put": True,
    "keys.list": True,
    "mail.scan": True,
    "sma.expire": True,
    "device.remove": True,
    "sma.leave": True,
}


def hello_result() -> dict[str, object]:
    from . import PROTOCOL_VERSION, __version__
    from .errors import ALL_REASONS

    return {
        "protocol": PROTOCOL_VERSION,
        "version": __version__,
        "methods": list(METHODS),
        "reasons": list(ALL_REASONS),
    }
