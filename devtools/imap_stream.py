"""Reading an IMAP stream as ``devtools.imap_proxy`` sees it: messages split at line ends
with literals skipped, command names and tags from a message's first line."""

from __future__ import annotations

import re
import socket

_FIRST_LINE_KEPT = 1024  # tag and command name are at the start of a command's first line
_LITERAL = re.compile(rb"\{([0-9]+)\+?\}$")  # also literal8 (~{n}): only the count matters


class Scanner:
    """Splits one direction of an IMAP stream into messages, skipping literal data.

    A message is a command (client side) or a response (server side): one line and,
    while a line ends in a literal ``{n}`` or ``{n+}``, the n raw bytes and the line
    continuing after them. feed() reports each message's first line twice: when that
    line is complete (``(False, line)``) and when the whole message is (``(True,
    line)``). Chunks may split anything anywhere.
    """

    def __init__(self) -> None:
        self._line = bytearray()
        self._literal = 0  # literal bytes still to skip
        self._first: bytes | None = None  # first line of the message under way
        self.opaque = False  # stop parsing (after STARTTLS / COMPRESS)

    def feed(self, data: bytes) -> list[tuple[bool, bytes]]:
        events: list[tuple[bool, bytes]] = []
        pos, end = 0, len(data)
        while pos < end and not self.opaque:
            if self._literal:
                step = min(self._literal, end - pos)
                self._literal -= step
                pos += step
                continue
            newline = data.find(b"\n", pos)
            if newline < 0:
                self._line += data[pos:]
                break
            self._line += data[pos:newline]
            pos = newline + 1
            line = bytes(self._line)
            self._line.clear()
            if line.endswith(b"\r"):
                line = line[:-1]
            if self._first is None:
                self._first = line[:_FIRST_LINE_KEPT]
                events.append((False, self._first))
            literal = _LITERAL.search(line) if line.endswith(b"}") else None
            if literal is not None:
                self._literal = int(literal.group(1))
            else:
                events.append((True, self._first))
                self._first = None
        return events


def command_name(first_line: bytes) -> str | None:
    """``"NOOP"`` for ``a1 NOOP``, ``"UID FETCH"`` for ``a2 uid fetch ...``; None for
    lines that are no command (``DONE``, AUTHENTICATE responses, empty lines)."""
    parts = first_line.split(b" ", 3)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    name = parts[1].upper()
    if name == b"UID" and len(parts) > 2 and parts[2]:
        name += b" " + parts[2].upper()
    return name.decode("ascii", "replace")


def tag_of(first_line: bytes) -> bytes:
    return first_line.split(b" ", 1)[0]


def nodelay(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
