"""Reading an agent's small files (config, session state) without ever failing on them.

They are the user's agent's files, not ours: a missing, unreadable or broken one reads as empty, and
the providers fall back to their defaults. Callers take only the keys they need. They are opened
through `openusage.files` (regular files only, never blocking, at most `SMALL_FILE_LIMIT` bytes); why
one that exists could not be read goes to `problems` when the caller keeps them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol

from openusage.files import open_regular, read_small, reason

STATE_NAME = "state.json"


def load_document(path: Path | str) -> dict[str, Any]:
    """A JSON or (by its `.toml` suffix) TOML file's top-level table; {} when missing or broken."""
    return read_document(path)[0]


def read_document(path: Path | str) -> tuple[dict[str, Any], str | None]:
    """`load_document`, and why a file that exists could not be used (None when it was, or is
    missing): a config the user broke is still read as empty, but they can be told."""
    try:
        raw = read_small(os.fspath(path))
    except (FileNotFoundError, NotADirectoryError):  # missing, or a home that is a file: no config there
        return {}, None
    except OSError as exc:
        return {}, f"cannot be read: {reason(exc)}"
    toml = str(path).endswith(".toml")
    try:
        text = raw.decode("utf-8")
        if toml:
            import tomllib  # only users with a TOML file pay for the import

            doc: Any = tomllib.loads(text)
        else:
            doc = _decode_json(raw, text)
    except UnicodeDecodeError as exc:
        return {}, f"not UTF-8 text (byte {exc.start})"
    except RecursionError:
        return {}, "nested too deeply"
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        return {}, f"invalid {'TOML' if toml else 'JSON'}: {_one_line(str(exc))}"
    if not isinstance(doc, dict):
        return {}, "not a JSON object"
    return doc, None


def _decode_json(raw: bytes, text: str) -> Any:
    """A JSON document as `json.loads(text)` reads it. Where msgspec is loaded already (a process that
    reads files: a cold or first run reads every session's state.json), it decodes first, 3x faster
    than `json` on a state file; whatever it refuses (NaN, a lone surrogate, a number beyond a float,
    anything malformed) goes to `json`, which decides as it always did, error messages included."""
    msgspec = sys.modules.get("msgspec")
    if msgspec is not None:
        try:
            return msgspec.json.decode(raw)
        except (msgspec.DecodeError, RecursionError):
            pass
    import json

    return json.loads(text)


class KeysMemo(Protocol):
    """Where `read_model_keys` remembers what it read (the cache, while a refresh has it open)."""

    def remembered_keys(self, path: str, signature: str) -> bytes | None: ...

    def remember_keys(self, path: str, signature: str, body: bytes) -> None: ...


# The memo of the refresh running in this thread, if any: a context variable, so that threads of a
# resident process (each refreshing with its own cache connection) never use one another's.
_memo: ContextVar[KeysMemo | None] = ContextVar("openusage_keys_memo", default=None)


@contextmanager
def remembering(memo: KeysMemo | None) -> Iterator[None]:
    """While the block runs, `read_model_keys` remembers its answers in `memo` (None: it does not)."""
    if memo is None:
        yield
        return
    token = _memo.set(memo)
    try:
        yield
    finally:
        _memo.reset(token)


def read_model_keys(path: Path | str, now_ns: int | None = None) -> tuple[dict[str, Any], str | None]:
    """`read_document` of a config, but only the keys that name models (`model_keys`: all that any
    provider reads of it), remembered by the file's stat while a refresh gives a memo (`remembering`).

    A warm run would otherwise parse the same config.toml every time, and importing a TOML parser
    costs ~2-4 ms of its ~70. A file is remembered only when its mtime and ctime are older than the
    guard remembered listings keep (`listing.trusted_before`; `now_ns`: the clock, now unless given),
    so a change within the clock tick of the read is never hidden; any change of its device, inode,
    size or times is a new signature. Only the model keys are kept: the rest of a config (API keys
    live there) is never cached."""
    memo = _memo.get()
    if memo is None:
        doc, problem = read_document(path)
        return model_keys(doc), problem
    import marshal

    from openusage.providers import listing

    name = os.fspath(path)
    try:
        info = os.stat(name)
    except OSError:  # missing or unreadable: nothing to parse or remember
        doc, problem = read_document(path)
        return model_keys(doc), problem
    signature = _signature_of(info)
    known = memo.remembered_keys(name, signature)
    if known is not None:
        with suppress(EOFError, ValueError, TypeError):
            kept, why = marshal.loads(known)
            if type(kept) is dict and (why is None or type(why) is str):
                return kept, why
    doc, problem = read_document(path)
    keys = model_keys(doc)
    if listing.unchanged_since(info, listing.trusted_before(now_ns)):
        memo.remember_keys(name, signature, marshal.dumps((keys, problem)))
    return keys, problem


def model_keys(doc: dict[str, Any]) -> dict[str, Any]:
    """The keys of a config that name models, as the providers read them: `model` and `default_model`
    when they are strings, and `models.<alias>.model` when it is one (an alias whose entry has none is
    left out, which every reader takes as it takes an entry without a model)."""
    kept: dict[str, Any] = {key: doc[key] for key in ("model", "default_model") if isinstance(doc.get(key), str)}
    models = doc.get("models")
    if isinstance(models, dict):
        kept["models"] = {alias: {"model": entry["model"]} for alias, entry in models.items()
                          if isinstance(entry, dict) and isinstance(entry.get("model"), str)}
    return kept


def _one_line(text: str) -> str:
    """An error message as one printable line (a parser may quote what it found)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def load_state(session_dir: str) -> dict[str, Any]:
    """A session directory's state.json; {} when there is none or it cannot be read."""
    return load_document(os.path.join(session_dir, STATE_NAME))


def read_head(path: str, limit: int) -> bytes:
    """At most the first `limit` bytes of a regular file; b"" when it is not one or cannot be read."""
    try:
        fd, _info = open_regular(path)
    except OSError:
        return b""
    try:
        chunks: list[bytes] = []
        left = limit
        while left > 0 and (chunk := os.read(fd, min(left, 65536))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return b""
    finally:
        os.close(fd)


def head_lines(path: str, limit: int) -> Iterator[bytes]:
    """The lines of at most the first `limit` bytes of a regular file, as `read_head(path,
    limit).splitlines()` gives them, read 64 KiB at a time: a long file's lines are never all held.
    Nothing when it is not a regular file or cannot be read; a read that fails part way ends them."""
    try:
        fd, _info = open_regular(path)
    except OSError:
        return
    try:
        rest = bytearray()  # the bytes after the last line end read so far (a long line grows in place)
        left = limit
        while left > 0:
            try:
                chunk = os.read(fd, min(left, 65536))
            except OSError:
                return
            if not chunk:
                break
            left -= len(chunk)
            rest += chunk
            # A line ends after the last `\n` (alone or in `\r\n`), whatever came before; only the new
            # bytes can hold one.
            cut = rest.rfind(b"\n", len(rest) - len(chunk)) + 1
            if cut:
                yield from bytes(rest[:cut]).splitlines()
                del rest[:cut]
        yield from bytes(rest).splitlines()
    finally:
        os.close(fd)


def stat_signature(path: Path | str) -> str:
    """What a file looks like without reading it (identity, size, times), or "" when it is not there."""
    try:
        info = os.stat(path)
    except OSError:
        return ""
    return _signature_of(info)


def _signature_of(info: os.stat_result) -> str:
    return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"


def growing_heads(path: str, first: int, limit: int) -> Iterator[tuple[list[bytes], bool]]:
    """The complete lines at the top of a file, read again in growing steps (from `first` bytes, four
    times more each step, up to `limit`), each with whether it is the last step (the file ended, or
    the limit): for a fact that is usually in the first lines but may come after a long one."""
    size = first
    while True:
        head = read_head(path, size)
        last = len(head) < size or size >= limit
        complete = head if len(head) < size else head[: head.rfind(b"\n") + 1]
        yield complete.split(b"\n"), last
        if last:
            return
        size *= 4
