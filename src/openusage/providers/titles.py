"""A session's title made from its first message, as Kimi CLI and Codex show it: whitespace collapsed
and shortened to a width the way `textwrap.shorten` does, with "..." in place of what is cut.

`textwrap` splits the whole text into chunks with a regular expression before it takes the first
line's worth: for a report of 200,000 Codex threads, whose first messages run to kilobytes, that was
18 % of the run (`py-spy record`). The result depends only on the text's first `width` characters and
on whether anything follows, so a text longer than the width is cut to `_KEPT_WIDTHS` times it first:
every chunk that can end within the first line is whole, and the chunks left after the line are not
empty (a test compares the two over generated texts).
"""

from __future__ import annotations

import textwrap

PLACEHOLDER = "..."
_KEPT_WIDTHS = 4


def short_title(text: str, width: int) -> str:
    """`textwrap.shorten(" ".join(text.split()), width, placeholder="...")`, the same string."""
    collapsed = " ".join(text.split())
    if len(collapsed) <= width:
        return collapsed  # what shorten gives a text that fits: the text, whitespace collapsed
    return textwrap.shorten(collapsed[:_KEPT_WIDTHS * width], width, placeholder=PLACEHOLDER)
