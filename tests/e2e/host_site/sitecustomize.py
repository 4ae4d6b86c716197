"""Test-only name resolution for the host process of an e2e scenario (never installed).

Thunderbird's built-in OAuth2 test provider is chosen by the IMAP host name ``mochi.test``,
so an OAuth2 account on the test Dovecot must be called that. Thunderbird resolves it
itself (``network.dns.localDomains``); the host, a Python process Thunderbird starts with
its own environment, cannot. A scenario that needs it puts this folder on ``PYTHONPATH``
in Thunderbird's environment and names the mapping in ``SMA_E2E_HOSTS``
(``name=address[,name=address…]``): Python imports this module at start-up and answers
those names, and only those, with the given loopback address. Nothing in ``host/`` knows
about it; without ``PYTHONPATH`` pointing here nothing changes.
"""

from __future__ import annotations

import os
import socket

_HOSTS = dict(
    entry.split("=", 1) for entry in os.environ.get("SMA_E2E_HOSTS", "").split(",") if "=" in entry
)

if _HOSTS:

    def _resolve(host, *args, _original=socket.getaddrinfo, **kwargs):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else host
        return _original(_HOSTS.get(name, host), *args, **kwargs)

    socket.getaddrinfo = _resolve
