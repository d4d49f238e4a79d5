"""Typed values as bytes, for the cache and a worker's pipe: msgspec's msgpack, checked on the way back.

Records, folded calls and a worker's results are msgspec Structs, which `marshal` does not take.
msgpack is compact and fast (57,000 records: ~3 ms to encode, ~18 ms to decode with every type checked,
against ~19 and ~24 ms through tuples and marshal). Two things it cannot hold do occur: an integer
beyond 64 bits (a count in an agent's file counts exactly, however large) and a string with a lone
surrogate (a directory name that is not UTF-8, a JSON-escaped `\\ud800` in an id). Such a value goes
as plain Python values through `marshal` instead, and is converted back to its types, checked the
same way. Each packed value starts with one byte naming its form.
"""

from __future__ import annotations

import marshal
from typing import Any, Generic, TypeVar

from openusage._msgspec import msgspec
from openusage.calls import StoredCopies, UsageRecord
from openusage.parallel import Codec
from openusage.stored import seal_bound

T = TypeVar("T")

_MSGPACK = b"m"
_MARSHAL = b"p"
_BYTES = (bytes,)  # kept as bytes in the marshal form (not turned into base64 text)
_encode_msgpack = msgspec.msgpack.Encoder().encode

# What a damaged or foreign value raises when it is unpacked.
UNPACK_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, ValueError, EOFError, TypeError)


def encode_records(records: list[UsageRecord], account: str, session: str) -> bytearray:
    """A file's copies as the store keeps them, sealed, with the account and session they were read for
    (`stored.copies_of`). Here, where msgspec is loaded anyway, not in `stored.py`, which a warm run
    imports: importing the two inside the function cost ~3.8 us a call, twice per file read."""
    return seal_bound(pack(StoredCopies(account, session, records)))


def pack(value: Any) -> bytes:
    """`value` (Structs, NamedTuples, lists, dicts, numbers, text, bytes) as bytes `Unpacker` reads."""
    try:
        return _MSGPACK + _encode_msgpack(value)
    except (OverflowError, UnicodeEncodeError):  # rare: see the module's docstring
        return _MARSHAL + marshal.dumps(msgspec.to_builtins(value, builtin_types=_BYTES))


class Unpacker(Generic[T]):
    """Bytes `pack` wrote → the value, its types checked against `kind`; `UNPACK_ERRORS` otherwise."""

    __slots__ = ("_kind", "_msgpack")

    def __init__(self, kind: type[T]) -> None:
        self._kind = kind
        self._msgpack = msgspec.msgpack.Decoder(kind)

    def __call__(self, data: bytes | bytearray | memoryview) -> T:
        view = memoryview(data)
        form, body = bytes(view[:1]), view[1:]
        if form == _MSGPACK:
            return self._msgpack.decode(body)
        if form == _MARSHAL:
            return msgspec.convert(marshal.loads(body), self._kind, builtin_types=_BYTES)
        raise ValueError("not a packed value")


_UNPACKERS: dict[type[Any], Unpacker[Any]] = {}


def unpacker(kind: type[T]) -> Unpacker[T]:
    """The one `Unpacker` of `kind` (its decoders are built once per process; two threads that build
    one at once each get a working one)."""
    found = _UNPACKERS.get(kind)
    if found is None:
        found = _UNPACKERS[kind] = Unpacker(kind)
    return found


def codec(kind: type[T]) -> Codec[T]:
    """`pack` and the `Unpacker` of `kind`."""
    return Codec(pack, unpacker(kind))
