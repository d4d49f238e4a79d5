"""The queries a refresh runs whatever it changed stay small: the files' diagnostics are counted from
an index of their few columns, not by reading every file row with its copies."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kimi_home import KimiHome, at, env_for, run_snapshot, uid
from openusage.store import Store


def test_file_diagnostics_are_counted_from_an_index(tmp_path: Path) -> None:
    home = KimiHome(tmp_path / "kimi")
    session = home.session(uid("1"), title="One")
    session.usage(at("2026-11-19T10:00:00Z"), (100, 10, 0, 0), "chatcmpl-1")
    usage_line = session.lines()[-1]
    session.add(usage_line[:-5])  # a usage line cut short: skipped, so the second query finds a row
    run_snapshot(env_for(home.root))
    store = Store(Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3")
    try:
        (account,) = store.conn.execute("SELECT DISTINCT account FROM files").fetchone()
        statements: list[str] = []
        store.conn.set_trace_callback(statements.append)
        files = store.file_diagnostics(account)
        store.conn.set_trace_callback(None)
        assert files.files_read == 1
        assert files.skipped == {"invalid_json": 1}
        queries = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
        assert len(queries) == 2
        plans = [" ".join(str(row[-1]) for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
                 for sql in queries]
        assert "COVERING INDEX files_diagnostics" in plans[0]
        assert "COVERING INDEX files_diagnostics" in plans[1]  # the paths are not read
    finally:
        store.close()


def test_file_diagnostics_count_each_files_skips_however_many_files_share_them(tmp_path: Path) -> None:
    """The skip counts are read once per distinct text, times the files holding it: three files skip
    one line each alike, a fourth two lines, a fifth nothing."""
    home = KimiHome(tmp_path / "kimi")
    for n in range(5):
        session = home.session(uid(str(n + 1)), title=f"S{n}")
        session.usage(at("2026-11-19T10:00:00Z"), (100, 10, 0, 0), f"chatcmpl-{n}")
        usage_line = session.lines()[-1]
        for _ in range({3: 2, 4: 0}.get(n, 1)):
            session.add(usage_line[:-5])  # a usage line cut short: invalid JSON
    run_snapshot(env_for(home.root))
    store = Store(Path(os.environ["OPENUSAGE_CACHE_DIR"]) / "cache.sqlite3")
    try:
        (account,) = store.conn.execute("SELECT DISTINCT account FROM files").fetchone()
        texts = {text for (text,) in store.conn.execute("SELECT skipped FROM files")}
        assert sorted(json.loads(text).get("invalid_json", 0) for text in texts) == [0, 1, 2]
        files = store.file_diagnostics(account)
        assert (files.files_read, files.skipped) == (5, {"invalid_json": 5})
    finally:
        store.close()
