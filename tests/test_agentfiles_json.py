"""An agent's JSON file reads the same whether msgspec decodes it (a process that reads files has it
loaded) or `json` does: the document, and why one could not be used, for every kind of text."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from openusage._msgspec import msgspec
from openusage.providers.agentfiles import read_document
from openusage.providers.kimi_cli.state import fork_depth

DOCUMENTS = [
    b'{"custom_title": "Fork: Undo: a", "version": 1}',
    b'{\n  "version": 1,\n  "approval": {"yolo": false, "auto_approve_actions": []},\n  "custom_title": "x"\n}',
    b'{"a": 1, "a": 2}',  # the last of a repeated key
    b'{"n": 123456789012345678901234567890, "m": -99999999999999999999, "f": 1E5, "z": -0, "g": 0.1}',
    b'{"t": "\\ud800x"}',  # a lone surrogate: json keeps it, msgspec refuses it
    b'{"a": NaN, "custom_title": "Fork: b"}',  # Python's json writes NaN; msgspec refuses it
    b'{"a": Infinity, "b": -Infinity}',
    b'{"a": 1e400}',  # beyond a float: json makes it inf
    b'{"t": "caf\xc3\xa9 \\u00e9 \\n \\"q\\""}',
    b'{"custom_title": 5}',
    b"[]",
    b'"Fork: x"',
    b"",
    b"   ",
    b"{",
    b'{"a": 1} trailing',
    b'{"a": 1}\n\n',
    b"\xef\xbb\xbf{}",  # a byte order mark
    b'{"a": "\xff"}',  # not UTF-8
    b'{"a": 01}',
    b'{"a": [1, 2,]}',
    b'{"a" 1}',
    b'{"a": "tab\there"}',  # a raw control character in a string
    b'{"a":' + b"[" * 900 + b"]" * 900 + b"}",
    b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}",  # nested too deeply for either
]


def _read(path: Path) -> tuple[object, str | None]:
    doc, problem = read_document(path)
    return repr(doc), problem  # repr: NaN != NaN, and a key's order counts


@pytest.mark.parametrize("raw", DOCUMENTS)
def test_a_json_file_reads_the_same_with_msgspec_as_with_json(tmp_path: Path, raw: bytes,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(raw)
    assert sys.modules["msgspec"] is msgspec  # loaded, as in a process that reads files: the fast way
    with_msgspec = _read(path)
    monkeypatch.delitem(sys.modules, "msgspec")  # as in a process that never loaded it
    assert _read(path) == with_msgspec


def test_a_fork_title_is_found_in_a_state_file_msgspec_refuses(tmp_path: Path) -> None:
    session = tmp_path / "s"
    session.mkdir()
    (session / "state.json").write_bytes(b'{"wire_mtime": NaN, "custom_title": "Fork: Undo: Fork: t"}')
    assert fork_depth(str(session)) == 3
