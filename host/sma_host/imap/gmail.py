"""Deleting for good on Gmail (``X-GM-EXT-1``).

On Gmail a folder is a label: ``\\Deleted`` + ``EXPUNGE`` only removes the label, and the
message stays in All Mail, where every processed SMA message would pile up (and show in
search). A message goes away only once it is in the ``\\Trash`` special-use folder and
expunged there. So: ``UID MOVE`` to the trash (or COPY and expunge without MOVE), then
in the trash flag exactly the moved copies (their UIDs from ``COPYUID``, RFC 4315; else
every SMA message there, found by its ``Autocrypt-SMA`` header) and expunge them, then
select the folder again.
"""

from __future__ import annotations

from typing import Any

from imapclient import IMAPClient
from imapclient.util import to_unicode

from ..protocol.envelope import HEADER

__all__ = ["find_trash", "discard_via_trash"]


def find_trash(client: IMAPClient) -> str | None:
    """The folder LIST marks ``\\Trash`` (RFC 6154), or None."""
    for flags, _delim, name in client.list_folders():
        if any(bytes(f).lower() == b"\\trash" for f in flags):
            return str(to_unicode(name))
    return None


def discard_via_trash(
    client: IMAPClient, uids_text: str, folder: str, readonly: bool, trash: str
) -> None:
    """Remove ``uids_text`` of the selected ``folder`` for good, through ``trash``;
    ``folder`` is selected again afterwards."""
    imap: Any = client._imap
    imap.untagged_responses.pop("COPYUID", None)
    if client.has_capability("MOVE"):
        client.move(uids_text, trash)
    else:
        client.copy(uids_text, trash)
        client.delete_messages(uids_text, silent=True)
        _expunge(client, uids_text)
    copied = imap.untagged_responses.pop("COPYUID", None)
    client.select_folder(trash)
    moved = _copyuid_targets(copied)
    if moved is None:
        moved = ",".join(str(u) for u in client.search(["HEADER", HEADER, ""]))
    if moved:
        client.delete_messages(moved, silent=True)
        _expunge(client, moved)
    imap.untagged_responses.pop("EXPUNGE", None)
    client.select_folder(folder, readonly=readonly)


def _expunge(client: IMAPClient, uids_text: str) -> None:
    if client.has_capability("UIDPLUS"):
        client.uid_expunge(uids_text)
    else:
        client.expunge()


def _copyuid_targets(responses: list[Any] | None) -> str | None:
    """The destination UID sets of ``COPYUID uidvalidity source destination`` codes."""
    if not responses:
        return None
    sets = [to_unicode(r).split()[2] for r in responses if len(to_unicode(r).split()) == 3]
    return ",".join(sets) or None
