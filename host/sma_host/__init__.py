"""sma-host: the Shared MUAA Messaging Archive over IMAP, as a Thunderbird native-messaging host."""

from __future__ import annotations

__version__ = "0.1.0"
#: Version of the JSON-RPC contract between add-on and host; bumped on incompatible changes.
PROTOCOL_VERSION = 1
