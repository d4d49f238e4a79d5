"""A title made from a first message (`providers.titles.short_title`) is the string `textwrap.shorten`
gives for it, over generated texts that reach every case its cut has to keep: words that end at the
width, hyphenated words it may break at, words longer than the width, runs of mixed whitespace, texts
just longer than the width and kilobytes longer, and the empty text."""

from __future__ import annotations

import random
import textwrap

import pytest

from openusage.providers.titles import short_title

_PIECES = ["a", "word", "hyphen-ated", "long-hyphen-ated-chain", "x" * 49, "y" * 50, "z" * 51, "w" * 130,
           "caf\u00e9", "\u4e2d\u6587\u5b57", "--", "-lead", "trail-", "e.g.", "end.", "1,234", "emoji\U0001f600",
           "a-b-c-d-e-f", "\u2014dash\u2014"]
_SPACES = [" ", "  ", "\n", "\t", " \r\n ", "\u3000", "\x0b"]


def _reference(text: str, width: int) -> str:
    return textwrap.shorten(" ".join(text.split()), width, placeholder="...")


def _text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.choice([0, 1, 2, 5, 9, 14, 30, 200])):
        parts.append(rng.choice(_PIECES) if rng.random() < 0.6 else "".join(
            rng.choice("abcdefghij-.,") for _ in range(rng.randrange(1, 20))))
        parts.append(rng.choice(_SPACES))
    return ("" if rng.random() < 0.7 else rng.choice(_SPACES)) + "".join(parts)


@pytest.mark.parametrize("width", [50, 10, 3, 4, 80])
def test_a_short_title_is_what_textwrap_shorten_gives(width: int) -> None:
    rng = random.Random(width)
    texts = [_text(rng) for _ in range(4_000)]
    # Texts around the cut: a word across the width, across the kept length, the width exactly.
    for length in range(width - 3, 4 * width + 3):
        texts.append("w" * length + " tail")
        texts.append("ab " * (length // 3) + "x" * 7 + "-y" * 40)
        texts.append("v" * length)
    texts += ["", " ", "\n\t", "a" * width, "a" * (width + 1), "a " * width]
    for text in texts:
        assert short_title(text, width) == _reference(text, width), repr(text)
