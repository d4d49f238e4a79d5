"""A one-shot command keeps a snapshot's calls and ledgers until it leaves (freeing them one by one just
before `os._exit` was ~5 ms of a cold scan); a process that is not one (this test process, a resident
front end) keeps nothing, and the figures are the same either way."""

from datetime import datetime
from pathlib import Path

import pytest
from tests.kimi_home import NOW, KimiHome, at, uid

from openusage import api, lifetime, scan
from openusage.snapshot import Snapshot


def _snapshot(root: Path) -> Snapshot:
    settings = root.parent / "settings.json"
    settings.write_text("{}\n", encoding="utf-8")
    env = {"KIMI_SHARE_DIR": str(root), "HOME": str(root.parent), "OPENUSAGE_CONFIG": str(settings)}
    result = api.snapshot(env, datetime.fromisoformat(NOW), use_cache=False)
    (one,) = result.snapshots
    assert one.models  # the two calls were read
    return one


@pytest.fixture
def home(tmp_path: Path) -> Path:
    kimi = KimiHome(tmp_path / "kimi")
    kimi.session(uid("1")).usage(at("2026-11-19T10:00:00Z"), (100, 20, 300, 0), "chatcmpl-a")
    kimi.session(uid("2")).usage(at("2026-11-20T10:00:00Z"), (50, 10, 0, 0), "chatcmpl-b")
    return kimi.root


def test_a_process_that_is_not_one_shot_keeps_nothing(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifetime, "_KEPT", [])
    assert lifetime.ONE_SHOT == [False]
    _snapshot(home)
    assert lifetime._KEPT == []


def test_a_one_shot_command_keeps_the_refreshed_accounts_until_it_leaves(home: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifetime, "_KEPT", [])
    freed = _snapshot(home)
    monkeypatch.setattr(lifetime, "ONE_SHOT", [True])
    assert _snapshot(home) == freed
    (kept,) = lifetime._KEPT
    assert isinstance(kept, dict)
    assert set(kept) == {"kimi_cli"}
    assert isinstance(kept["kimi_cli"], scan.Refreshed)
    assert kept["kimi_cli"].calls
