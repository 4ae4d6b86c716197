"""``bench.peers``' own helpers, without Delta Chat: the connection count and the table."""

from __future__ import annotations

import os
import socket

from bench.peers import Pair, markdown, tcp_connections


def test_tcp_connections_counts_established_to_the_port_only() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener, socket.socket() as other:
        port = listener.getsockname()[1]
        other.bind(("127.0.0.1", 0))
        other.listen()
        before = tcp_connections(os.getpid(), {port})
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        accepted = [listener.accept()[0] for _ in clients]
        stray = socket.create_connection(other.getsockname())
        try:
            # Our two client ends have the port as remote port; the accepted ends have it
            # as local port, and the stray connection goes elsewhere.
            assert tcp_connections(os.getpid(), {port}) == before + 2
        finally:
            for sock in [*clients, *accepted, stray]:
                sock.close()


def test_table_shows_medians_ranges_and_the_ratio_deltachat_over_sma() -> None:
    pair = Pair("x", "second device", "s", dc=[0.3, 0.2, 0.4], sma=[0.1, 0.2, 0.3])
    failed = Pair("y", "memory", "MB", error="RuntimeError: boom")
    header = {"deltachat": "v2", "sma_host": "0.1", "dovecot": "2.3", "reps": 3, "netns": True}
    table = markdown([pair, failed], header)
    assert "| second device | 0.300 s (0.200–0.400) | 0.200 s (0.100–0.300) | 1.50 |" in table
    assert "| memory | failed | failed | RuntimeError: boom |" in table
    assert abs(pair.to_json()["ratio_deltachat_over_sma"] - 1.5) < 1e-9
