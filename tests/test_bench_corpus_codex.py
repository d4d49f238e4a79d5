"""The Codex benchmark generator's figures (its manifest) are the ones openusage gives: the benchmark
checks every run against them, so they must follow the specification's rules as openusage does."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from bench import corpus_codex


def untimed_calls_then_re_emitted(home: Path) -> int:
    """How many calls written without a timestamp are followed by a re-emit (same total, a time)."""
    found = 0
    for path in home.rglob("rollout-*.jsonl"):
        lines = path.read_bytes().split(b"\n")
        for line, after in itertools.pairwise(lines):
            if b'"info":{' not in line or line.startswith(b'{"timestamp"') or b'"info":{' not in after:
                continue
            first, then = json.loads(line)["payload"]["info"], json.loads(after)["payload"]["info"]
            found += first["total_token_usage"] == then["total_token_usage"]
    return found


def test_the_manifest_holds_the_figures_openusage_gives(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    corpus_codex.generate(home, corpus_codex.Params(sessions=60, size_mb=8, seed=3))
    # a call whose own line has no time takes its re-emit's ("Readings settled" 3): here, twice
    assert untimed_calls_then_re_emitted(home) >= 1
    assert corpus_codex.check(home) == []
