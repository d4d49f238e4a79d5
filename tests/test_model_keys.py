"""A config's model keys remembered by its stat (`agentfiles.read_model_keys`): an unchanged config is
not parsed again, a changed one is, one changed within the guard is never remembered, a broken one
is still named every run, and nothing but the model keys is ever kept (API keys live there)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from kimi_home import KimiHome, at, comparable, env_for, models, run_snapshot, uid
from openusage.providers import agentfiles, listing

LATER = 60 * 10**9
CONFIG = ('default_model = "fast"\n[models.fast]\nmodel = "kimi-k2-turbo-preview"\nmax_context_size = 1\n'
          '[providers.moonshot]\napi_key = "sk-secret-do-not-keep"\n')


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The config files parsed (`read_document` itself runs)."""
    seen: list[str] = []
    real = agentfiles.read_document

    def counted(path: Path | str) -> tuple[dict[str, Any], str | None]:
        seen.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(agentfiles, "read_document", counted)
    return seen


@pytest.fixture
def home(tmp_path: Path) -> KimiHome:
    h = KimiHome(tmp_path / "kimi")
    h.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (100, 10, 0, 0), "chatcmpl-1")  # names no model
    h.config_toml(CONFIG)
    return h


def _equal(env: dict[str, str | None]) -> dict[str, Any]:
    cached = run_snapshot(env)
    cold = run_snapshot(env, "--no-cache")
    assert comparable(cached) == comparable(cold)
    return dict(cached["snapshots"][0])


def _toml(seen: list[str]) -> int:
    return sum(path.endswith("config.toml") for path in seen)


def test_an_unchanged_config_is_not_parsed_again(home: KimiHome, parsed: list[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "TRUST_AFTER_NS", -LATER)  # the test's config counts as old enough
    env = env_for(home.root)
    assert models(_equal(env))[0][0] == "kimi-k2-turbo-preview"
    before = _toml(parsed)
    snap = run_snapshot(env)["snapshots"][0]
    assert _toml(parsed) == before  # answered from the cache
    assert models(snap)[0][0] == "kimi-k2-turbo-preview"

    home.config_toml(CONFIG.replace("kimi-k2-turbo-preview", "kimi-k2-other"))  # a new signature
    assert models(_equal(env))[0][0] == "kimi-k2-other"
    assert _toml(parsed) > before


def test_a_config_changed_within_the_guard_is_parsed_every_run(home: KimiHome, parsed: list[str]) -> None:
    env = env_for(home.root)  # the real clock: the config was written just now
    _equal(env)
    before = _toml(parsed)
    run_snapshot(env)
    assert _toml(parsed) == before + 1


def test_only_the_model_keys_are_kept(home: KimiHome, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "TRUST_AFTER_NS", -LATER)
    _equal(env_for(home.root))
    with sqlite3.connect(Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3") as conn:
        bodies = [row[0] for row in conn.execute("SELECT body FROM model_keys")]
    assert len(bodies) == 1
    assert b"fast" in bodies[0]
    assert b"sk-secret" not in bodies[0]
    assert b"max_context_size" not in bodies[0]


def test_a_broken_config_is_named_on_every_run(home: KimiHome, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "TRUST_AFTER_NS", -LATER)
    path = home.config_toml("default_model = \n")
    for _ in range(3):
        snap = _equal(env_for(home.root))
        assert any(str(path) in notice and "invalid TOML" in notice for notice in snap["notices"])
        assert models(snap)[0][0] == "kimi-for-coding"


@pytest.mark.parametrize("doc", [
    {"model": "m", "default_model": "a", "models": {"a": {"model": "x", "provider": "p"}, "b": {"model": 3},
                                                    "c": "not a table", "d": {}}},
    {"model": 5, "default_model": ["a"], "models": ["a"]},
    {"default_model": "", "models": {"": {"model": ""}}},
    {},
])
def test_the_model_keys_answer_every_reader_as_the_whole_document(doc: dict[str, Any]) -> None:
    from openusage.providers.codex_cli import config as codex
    from openusage.providers.kimi_cli import config as kimi_cli
    from openusage.providers.kimi_code import config as kimi_code

    kept = agentfiles.model_keys(doc)
    assert set(kept) <= {"model", "default_model", "models"}
    toml, json = Path("config.toml"), Path("config.json")
    for pair in ([(toml, doc)], [(json, doc)], [(toml, doc), (json, doc)]):
        assert kimi_cli._default_model(pair) == kimi_cli._default_model([(p, kept) for p, _ in pair])
    unresolved = kimi_code.UNRESOLVED  # a journal's alias still to resolve through the config
    for model in (None, "plain", *(unresolved + alias for alias in ("a", "kimi-code/a", "b", "c", "d", "", "__x__"))):
        assert kimi_code._resolver(doc)(model) == kimi_code._resolver(kept)(model)
    assert (doc.get("model") if isinstance(doc.get("model"), str) else None) == kept.get("model")
    assert codex.FALLBACK_MODEL  # codex reads only the top-level `model`, compared above


def test_a_cache_that_cannot_remember_is_only_slower(home: KimiHome, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "TRUST_AFTER_NS", -LATER)
    env = env_for(home.root)
    _equal(env)
    with sqlite3.connect(Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3") as conn:
        conn.execute("DROP TABLE model_keys")  # asking it and keeping in it both fail now
    for _ in range(2):
        assert models(_equal(env))[0][0] == "kimi-k2-turbo-preview"


class _Memo:
    """A memo that records what it was asked (a cache's stand-in for the memo protocol alone)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def remembered_keys(self, path: str, signature: str) -> bytes | None:
        self.asked.append(path)
        return None

    def remember_keys(self, path: str, signature: str, body: bytes) -> None:
        self.asked.append(path)


def test_one_threads_memo_is_not_another_threads(tmp_path: Path) -> None:
    """A resident process refreshes from threads, each with its cache connection: a read in a thread
    that gave no memo uses none, whatever another thread gave."""
    import threading

    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    other = _Memo()
    entered, done = threading.Event(), threading.Event()

    def refreshing() -> None:
        with agentfiles.remembering(other):
            entered.set()
            done.wait(10)

    thread = threading.Thread(target=refreshing)
    thread.start()
    try:
        assert entered.wait(10)
        keys, problem = agentfiles.read_model_keys(config, now_ns=1 << 62)
        assert problem is None
        assert keys["default_model"] == "fast"
        assert other.asked == []
        mine = _Memo()
        with agentfiles.remembering(mine):
            agentfiles.read_model_keys(config, now_ns=1 << 62)
        assert mine.asked
        assert other.asked == []
    finally:
        done.set()
        thread.join()
