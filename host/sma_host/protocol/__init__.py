"""Sans-I/O core: folder names, message formats, state machines, merge.

Nothing here touches sockets, stdio, the clock, the disk or the OS random source
(except inside ``crypto``, where key generation and nonces come from ``cryptography``).
Inputs come in as arguments; decisions go out as return values.
"""
