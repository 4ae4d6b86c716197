"""Starts a throw-away Dovecot (devtools.dovecot) for the add-on's integration test.

Prints one JSON line ({"host", "port", "users": [[name, password], ...]} or {"skip": why}),
then serves until its stdin closes. Run from the repository root with PYTHONPATH=. and
the project's .venv Python.
"""

import json
import sys

try:
    from devtools.dovecot import DovecotServer, ImapUser
except ImportError as e:  # pragma: no cover - depends on the machine
    print(json.dumps({"skip": f"devtools.dovecot cannot be imported: {e}"}), flush=True)
    sys.exit(0)

if not DovecotServer.available():
    print(json.dumps({"skip": "Dovecot is not installed (make test installs it)"}), flush=True)
    sys.exit(0)

users = [ImapUser("alice", "alice-pw-1"), ImapUser("bob", "bob-pw-2")]
with DovecotServer(users) as server:
    print(
        json.dumps(
            {"host": server.host, "port": server.port, "users": [[u.name, u.password] for u in users]}
        ),
        flush=True,
    )
    sys.stdin.read()
