"""How the cache's values are stored and checked: nothing stored is trusted.

Every blob is sealed with a crc32 of its bytes (`seal`), checked before it is decoded, so a changed
byte is found and no decoder sees bytes it did not write (crc32 costs ~0.25 ms per MiB). A file's
copies are sealed with the account and session they were read for, and a session row keeps a crc32
of its fork rank and parent, so a column changed into another valid value is found too. Every other
value is checked for its type where it is read. What is not what was written raises `DamagedValue`
(the caller runs `Store.repair` and starts again).

Names (accounts, sessions, paths, a file's key, a parent) are stored as text when they are valid
UTF-8 and as a BLOB of their exact bytes otherwise (`to_db`): a directory name that is not UTF-8
is a str with surrogate escapes, which SQLite text cannot hold.
"""

from __future__ import annotations

import marshal
import struct
import zlib
from array import array
from collections.abc import Iterable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, NoReturn

from openusage.errors import CacheError
from openusage.records import FileDiagnostics, SessionInfo

if TYPE_CHECKING:
    from openusage.calls import UsageRecord


class DamagedValue(CacheError):
    """A stored value is not what this code writes (a changed byte, a wrong type in a column): the
    caller runs `Store.repair` and starts again."""


def damaged(what: str) -> NoReturn:
    raise DamagedValue(what)


_CRC = struct.Struct("<I")


def sealed(payload: bytes | None) -> bytes | None:
    return None if payload is None else seal(payload)


def seal(payload: bytes) -> bytes:
    """A blob as stored: the crc32 of its bytes, then the bytes. crc32 costs ~0.25 ms per MiB."""
    return _CRC.pack(zlib.crc32(payload)) + payload


def seal_bound(payload: bytes) -> bytearray:
    """`seal`, as a bytearray: what the store binds without an adapter lookup (`Store._flush_files`)."""
    blob = bytearray(_CRC.pack(zlib.crc32(payload)))
    blob += payload
    return blob


def unseal(blob: object) -> bytes | None:
    """The bytes `seal` was given, or None when `blob` is not a sealed blob (any other type, a changed
    byte)."""
    if type(blob) is not bytes or len(blob) < _CRC.size:
        return None
    payload = blob[_CRC.size:]
    return payload if zlib.crc32(payload) == _CRC.unpack_from(blob)[0] else None




def holder_entries(blob: object) -> array[int]:
    """A holders shard's entries; `DamagedValue` when the stored value is not one."""
    payload = unseal(blob)
    if payload is None or len(payload) % 8:
        damaged("the holders index")
    entries = array("q")
    entries.frombytes(payload)
    return entries


def seal_entries(values: Iterable[int]) -> bytearray:
    return seal_bound(array("q", values).tobytes())


COPIES = "account, session, path, records, tail_records"  # the columns `copies_of` reads


def copies_of(row: Any) -> tuple[str, str, list[UsageRecord], list[UsageRecord]]:
    """A file row's account, session, copies and last line's copies (`COPIES`). The blobs name the
    account and session they were read for: a column changed into another valid name (the ledger
    counted those copies under the old one) is found as well as a changed byte."""
    path = row[2]
    account, session = name_of(row[0], path), name_of(row[1], path)
    return account, session, _decode_records(row[3], path, account, session), \
        _decode_records(row[4], path, account, session)


def _decode_records(blob: object, path: object, account: str, session: str) -> list[UsageRecord]:
    """Stored copies, their types checked by the typed decoder (the crc has already said the bytes are
    the ones written), read for this account and session. `DamagedValue` otherwise."""
    payload = unseal(blob)
    if payload is None:
        damaged(f"the copies of {path}")
    from openusage.calls import StoredCopies  # loaded already: the file was read or its copies asked
    from openusage.packed import UNPACK_ERRORS, unpacker

    try:
        stored = unpacker(StoredCopies)(payload)
    except UNPACK_ERRORS:
        damaged(f"the copies of {path}")
    if stored.account != account or stored.session != session:
        damaged(f"the session or account of {path}")
    return stored.records


def counts_of(text: object, where: object) -> dict[str, int]:
    """Stored skip counts (JSON text of reason -> count); `DamagedValue` otherwise."""
    if text == "{}":  # nothing skipped, as nearly always: no JSON decoder needed (a warm run imports none)
        return {}
    import json

    try:
        counts = json.loads(text) if type(text) is str else None
    except ValueError:
        counts = None
    if type(counts) is not dict or not all(type(k) is str and type(v) is int for k, v in counts.items()):
        damaged(f"the skip counts of {where}")
    return counts


class _NotText(bytes):
    """A stored text value that is not UTF-8, as `repair` reads it: not a `str`, so never valid."""


def lenient_text(raw: bytes) -> str | _NotText:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _NotText(raw)


def to_db(name: str) -> str | bytes:
    """A name (account, session, path, a file's key, a parent) as stored. A directory name that is
    not UTF-8 is a str with surrogate escapes (and JSON may escape a lone surrogate): SQLite text must
    be UTF-8, so such a name is stored as a BLOB of its surrogatepass bytes. A BLOB never equals a
    TEXT in SQLite, and every other name is TEXT, so names are stored and compared exactly."""
    if name.isascii():
        return name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogatepass")
    return name


def name_of(value: object, where: object) -> str:
    """A stored name (`to_db`) as it was; `DamagedValue` when the column holds something else."""
    if type(value) is str:
        return value
    if type(value) is bytes:
        with suppress(UnicodeDecodeError):
            return value.decode("utf-8", "surrogatepass")
    damaged(f"a name stored for {where}")


def session_check(rank: int, parent: str | None, joins: str | None = None, lineage: tuple[str, ...] = (),
                  links: tuple[tuple[str, str, bool], ...] = (), upstream: str | None = None,
                  told: tuple[tuple[str, str], ...] = (), thread: str | None = None) -> int:
    """What a session row keeps beside its rank, parent, the session it joins, its further ancestors and
    the links its state names, so that one of them changed into another valid value (which would move
    the owner of a fork's calls) is found."""
    text = f"{rank}" if parent is None else f"{rank}/{parent}"
    if joins is not None:
        text += f"//{joins}"
    if lineage:
        text += "///" + "\x1f".join(lineage)
    if links:
        text += "////" + "\x1e".join(f"{child}\x1f{named}\x1f{int(spawned)}" for child, named, spawned in links)
    if upstream is not None:
        text += f"/////{upstream}"
    if told:
        text += "//////" + "\x1e".join(f"{thread}\x1f{provider}" for thread, provider in told)
    if thread is not None:
        text += f"///////{thread}"
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def lineage_blob(lineage: tuple[str, ...], links: tuple[tuple[str, str, bool], ...] = (),
                 upstream: str | None = None, told: tuple[tuple[str, str], ...] = (),
                 thread: str | None = None) -> bytes | None:
    """A session's further ancestors, the links its state names, its upstream provider, those it
    names for other threads and the thread its files hold when their name says another, as its row
    keeps them in its lineage column (NULL for none of them: almost every session)."""
    if lineage or links or upstream is not None or told or thread is not None:
        return marshal.dumps((lineage, links, upstream, told, thread))
    return None


PLAIN_SESSION = SessionInfo(0, None)


PLAIN_CHECK = session_check(0, None)


def session_of(row: tuple[object, ...]) -> tuple[str, SessionInfo]:
    """A session row (session, rank, parent, joins, lineage, checksum) as its name and `SessionInfo`."""
    session, rank, stored_parent, stored_joins, stored_lineage, checksum = row
    parent = None if stored_parent is None else name_of(stored_parent, session)
    joins = None if stored_joins is None else name_of(stored_joins, session)
    lineage, links, upstream, told, thread = ((), (), None, (), None) if stored_lineage is None \
        else _lineage_of(stored_lineage, session)
    if type(rank) is not int or checksum != session_check(rank, parent, joins, lineage, links, upstream, told, thread):
        damaged(f"the fork rank or parent of session {session}")
    return name_of(session, "a session"), SessionInfo(rank, parent, joins, lineage, links, upstream, told, thread)


_StoredLineage = tuple[tuple[str, ...], tuple[tuple[str, str, bool], ...], str | None, tuple[tuple[str, str], ...],
                       str | None]


def _lineage_of(stored: object, session: object) -> _StoredLineage:
    try:
        value = marshal.loads(stored) if type(stored) is bytes else None
    except (EOFError, ValueError, TypeError):
        value = None
    if type(value) is tuple and len(value) == 5:
        lineage, links, upstream, told, thread = value
        if type(lineage) is tuple and all(type(name) is str for name in lineage) and type(links) is tuple \
                and all(type(link) is tuple and len(link) == 3 and type(link[0]) is str and type(link[1]) is str
                        and type(link[2]) is bool for link in links) and (upstream is None or type(upstream) is str) \
                and type(told) is tuple and all(type(one) is tuple and len(one) == 2 and type(one[0]) is str
                                                and type(one[1]) is str for one in told) \
                and (thread is None or type(thread) is str):
            return lineage, links, upstream, told, thread
    damaged(f"the ancestors of session {session}")


def diagnostics_of(payload: bytes | None) -> FileDiagnostics | None:
    """The files' diagnostics stored with a ledger (None when damaged: the caller counts them again)."""
    if payload is None:
        return None
    try:
        files_read, skipped, zero = marshal.loads(payload)
        if type(files_read) is int and type(zero) is int and type(skipped) is dict \
                and all(type(k) is str and type(v) is int for k, v in skipped.items()):
            return FileDiagnostics(files_read, skipped, zero)
    except (EOFError, ValueError, TypeError):
        pass
    return None
