"""Write the pairing transition tables of ``docs/protocol.md`` §7.8 from the code.

``python -m devtools.pairing_table`` rewrites the text between the markers
``<!-- pairing-table:outgoing -->`` / ``<!-- pairing-table:incoming -->`` and
``<!-- /pairing-table -->``; ``tests/protocol/test_pairing_states.py`` fails while the
doc and ``protocol/pairing_states.TABLE`` differ.
"""

from __future__ import annotations

import re
from pathlib import Path

from sma_host.protocol.pairing_states import Direction, markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
_BLOCK = re.compile(r"(<!-- pairing-table:(\w+) -->\n)(.*?)(<!-- /pairing-table -->)", re.S)


def tables_in(text: str) -> dict[str, str]:
    """The generated tables as the doc has them, by direction."""
    return {m.group(2): m.group(3) for m in _BLOCK.finditer(text)}


def render(text: str) -> str:
    return _BLOCK.sub(
        lambda m: m.group(1) + markdown(Direction(m.group(2))) + "\n" + m.group(4), text
    )


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text("utf-8")), "utf-8")
