"""mutmut's runner under ``make mutation``: asks ``devtools.mutation_server`` for one pytest
run and exits with its code. Standard library only, started with ``python -S``."""

from __future__ import annotations

import json
import socket
import sys


def main() -> int:
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(sys.argv[1])
        conn.sendall(json.dumps(sys.argv[2:]).encode() + b"\n")
        answer = conn.makefile().readline().strip()
    return int(answer) if answer else 1


if __name__ == "__main__":
    sys.exit(main())
