"""Whether one of the package's optional compiled modules may be used, by the one rule they share.

The compiled parts (`openusage._hot`, the Kimi CLI, Kimi Code and Codex line parsers: see setup.py) each have a
pure-Python reference. A compiled module is used unless OPENUSAGE_PURE is set (to anything but "" or
"0"), it is not built or cannot be loaded, or it was built from another version of its source (its
version constant differs from the one its Python side expects); `openusage detect` says which runs,
and why. Imports nothing heavy: the providers ask it while detecting.
"""

import importlib
import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any, Generic, NamedTuple, TypeVar

T = TypeVar("T")

PURE_ENV = "OPENUSAGE_PURE"


class Loaded(NamedTuple):
    module: ModuleType | None  # None: the pure-Python reference runs
    why: str  # the module's name, or why it is not used


def load(name: str, version_name: str, version: int, environ: Mapping[str, str] = os.environ) -> Loaded:
    """The compiled module `name` when it may be used: its `version_name` constant must be `version`."""
    forced = environ.get(PURE_ENV, "")
    if forced not in ("", "0"):
        return Loaded(None, f"{PURE_ENV}={forced} is set")
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        return Loaded(None, f"{name} is not built or cannot be loaded: {exc}")
    if getattr(module, version_name, None) != version:
        return Loaded(None, f"{name} was built from another version of the source: reinstall")
    return Loaded(module, name)


def describe(compiled: bool, why: str) -> str:
    """One line for `openusage detect`."""
    return f"compiled ({why})" if compiled else f"pure Python ({why})"


class FastPath(NamedTuple, Generic[T]):
    """A provider's choice of line reader: the compiled module's entry point, or None where the pure
    reference reads every line."""

    lines: T | None
    why: str  # what runs, or why the compiled path does not


def choose(name: str, version_name: str, version: int, entry: str, environ: Mapping[str, str]) -> FastPath[Any]:
    """The entry point `entry` of the compiled module `name` when it may be used (`load`), else None."""
    loaded = load(name, version_name, version, environ)
    return FastPath(None if loaded.module is None else getattr(loaded.module, entry), loaded.why)


def describe_path(path: FastPath[Any]) -> str:
    """One line for `openusage detect` about a provider's choice."""
    return describe(path.lines is not None, path.why)
