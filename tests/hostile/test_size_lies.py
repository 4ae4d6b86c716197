"""Issue 12 item 3: sizes enforced on the bytes that arrive, not on ``RFC822.SIZE``.

A relay between the host and a real Dovecot rewrites every ``RFC822.SIZE`` to 100, as a
hostile provider could. Three 12 MiB messages in the device's inbox must cost the host
no more than the per-message limit each, and be dropped.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.host_process import RpcError
from tests.contract.test_keys import ACCOUNT, call, inbox_counts
from tests.imap_inspect import connect
from tests.native.test_stdio_contract import StallProxy, vm_hwm_bytes

MiB = 1024 * 1024
_SIZE = re.compile(rb"RFC822\.SIZE \d+")
_PARTIAL = re.compile(rb"BODY\.PEEK\[\]<0\.\d+>")


class SizeLiar(StallProxy):
    """A plaintext IMAP relay that claims every message is 100 bytes."""

    def __init__(self, upstream_port: int, whole_bodies: bool = False) -> None:
        #: Also turn partial body fetches into whole ones: the server sends everything.
        self.whole_bodies = whole_bodies
        super().__init__(upstream_port)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        from_server = source.getpeername()[1] == self.upstream_port
        pending = b""
        while True:
            try:
                data = source.recv(256 * 1024)
                if not data:
                    return
                # Whole lines only, so a size split across two reads is rewritten too.
                pending += data
                cut = pending.rfind(b"\r\n") + 2
                if cut >= 2:
                    lines, pending = pending[:cut], pending[cut:]
                    if from_server:
                        lines = _SIZE.sub(b"RFC822.SIZE 100", lines)
                    elif self.whole_bodies:
                        lines = _PARTIAL.sub(b"BODY.PEEK[]", lines)
                    sink.sendall(lines)
            except OSError:
                return


@pytest.fixture(params=["sizes", "sizes-and-whole-bodies"])
def liar(dovecot: Any, request: pytest.FixtureRequest) -> Iterator[SizeLiar]:
    relay = SizeLiar(dovecot.port, whole_bodies=request.param != "sizes")
    yield relay
    relay.close()


def big_message(sender: str, size: int) -> bytes:
    line = b"x" * 76 + b"\r\n"
    return (
        b"Autocrypt-SMA: v=1; type=key-update; from="
        + sender.encode()
        + b"\r\n\r\n"
        + line * (size // len(line))
    )


def test_understated_sizes_deliver_no_more_than_the_limit(spawn_host, account, liar) -> None:  # type: ignore[no-untyped-def]
    host = spawn_host("b", env={"SMA_HOST_PUSH": "off"})
    host.call(
        "account.configure",
        account.configure_params(
            ACCOUNT, device_name="b", host="127.0.0.1", port=liar.port, security="none"
        ),
    )
    me = call(host, "sma.join")["muaa_id"]
    call(host, "sma.sync")  # everything a sync loads is loaded before the baseline
    baseline = vm_hwm_bytes(host.process.pid)
    with connect(account.server, account.user) as client:
        for _ in range(3):
            client.append(f"_Autocrypt_SMA_{me}", big_message("0123456789abcdef", 12 * MiB))
    if liar.whole_bodies:
        # The server ignores the partial range: the first literal over the limit is
        # refused before it is read, and the connection given up.
        with pytest.raises(RpcError) as refused:
            call(host, "sma.sync")
        assert refused.value.reason == "connection_failed"
    else:
        summary = call(host, "sma.sync")
        assert summary["dropped"] == 3 and summary["processed"] == 0
        assert inbox_counts(account)[f"_Autocrypt_SMA_{me}"] == 0
    growth = vm_hwm_bytes(host.process.pid) - baseline
    print(f"peak memory grew by {growth / MiB:.1f} MiB for 36 MiB of understated mail")
    # 3 × (2 MiB + 1) may arrive; the whole 36 MiB would double that many times over.
    assert growth < 16 * MiB
