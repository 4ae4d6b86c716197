"""mutmut's runner under ``make mutation``: asks ``devtools.mutation_server`` for one pytest
run and exits with its code. Standard library only, started with ``python -S``."""

from __future__ import annotations

import json
import socket
import sys

#: Not a verdict: the server could not be asked. mutmut 2 reads any code but 1 as "the
#: tests passed", so such a mutant is reported as a survivor, never as killed.
NO_VERDICT = 3


def main() -> int:
    try:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(sys.argv[1])
            conn.sendall(json.dumps(sys.argv[2:]).encode() + b"\n")
            answer = conn.makefile().readline().strip()
    except OSError:
        return NO_VERDICT
    if not answer:
        return NO_VERDICT
    # 1 for any failure: mutmut 2 counts only exit code 1 as a kill, so a mutant that
    # breaks an import (pytest exits 2) or leaves no test to run (5) would "survive".
    return 0 if answer == "0" else 1


if __name__ == "__main__":
    sys.exit(main())
