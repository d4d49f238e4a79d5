"""Damaged files never break a run: real sessions of every agent, mutated at random (a seeded, fixed
set of cases), always give exit 0, one JSON document, no traceback, and the same figures cold and
cached. What the figures are is the business of the rule tests; here only that nothing is lost to a
crash and that the cache never disagrees with a cold read."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from codex_home import CodexHome, codex_env
from codex_home import snapshot as codex_snapshot
from kimi_code_home import code_snapshot
from kimi_home import FIXTURES, KimiHome, comparable, env_for, run_snapshot, uid

CODE_FIXTURES = FIXTURES.parent / "kimi_code"
DAMAGE = [b'"', b"\\", b"{", b"}", b"[", b"]", b",", b":", b"\n", b"\xff", b"\xc3", b"\x00", b"NaN", b"1e999",
          b'"token_usage"', b'"usage.record"', b'"llm.request"', b'"forked"', b"\\ud800", b"-", b"0"]
CODEX_DAMAGE = [*DAMAGE, b'"token_count"', b'"session_meta"', b'"turn_context"', b"null", b"-1"]


def mutate(data: bytes, rng: random.Random, damage: list[bytes] = DAMAGE) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        if not out:
            break
        at = rng.randrange(len(out))
        kind = rng.randrange(4)
        if kind == 0:
            out[at : at + 1] = rng.choice(damage)  # replace a byte
        elif kind == 1:
            out[at:at] = rng.choice(damage)  # insert
        elif kind == 2:
            del out[at : at + rng.randrange(1, 40)]  # cut
        else:
            out = out[:at]  # truncate: a half-written last line
    return bytes(out)


@pytest.mark.parametrize("seed", range(12))
def test_mutated_kimi_cli_sessions_never_break_a_run(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    home = KimiHome(tmp_path / "kimi")
    original = (FIXTURES / "real_session.jsonl").read_bytes()
    for n in range(4):
        session = home.session(uid("0123456789abcdef"[n]), header=False)
        session.path.write_bytes(mutate(original, rng))
    env = env_for(home.root, OPENUSAGE_CACHE_DIR=str(tmp_path / "cache"))
    cold = run_snapshot(env, "--no-cache")
    assert comparable(run_snapshot(env)) == comparable(cold)  # first run
    assert comparable(run_snapshot(env)) == comparable(cold)  # warm


@pytest.mark.parametrize("seed", range(12))
def test_mutated_kimi_code_journals_never_break_a_run(tmp_path: Path, seed: int) -> None:
    rng = random.Random(1000 + seed)
    root = tmp_path / "kimi-code"
    original = (CODE_FIXTURES / "real_session.jsonl").read_bytes()
    for n in range(4):
        journal = root / "sessions" / "wd_app_0123456789ab" / f"session_{n}" / "agents" / "main" / "wire.jsonl"
        journal.parent.mkdir(parents=True)
        journal.write_bytes(mutate(original, rng))
    env: dict[str, str | None] = {"OPENUSAGE_NOW": "2026-11-20T12:00:00Z", "KIMI_CODE_HOME": str(root)}
    code_snapshot(env)  # exit 0, one checked document, the same figures cold, on a first run and warm


@pytest.mark.parametrize("seed", range(12))
def test_mutated_codex_rollouts_never_break_a_run(tmp_path: Path, seed: int) -> None:
    rng = random.Random(2000 + seed)
    home = CodexHome(tmp_path / "codex")
    sources = [FIXTURES.parent / "codex_cli" / name for name in ("plain_two_turns.jsonl", "fork.jsonl",
                                                                   "subagent.jsonl", "nested_fork.jsonl")]
    for n, source in enumerate(sources):
        path = home.place(source.name, "2026/11/19", archived=n == 3)
        path.write_bytes(mutate(source.read_bytes(), rng, CODEX_DAMAGE))
    codex_snapshot(codex_env(home.root))  # exit 0, one checked document, the same figures three ways
