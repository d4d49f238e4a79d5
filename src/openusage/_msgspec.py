"""msgspec, imported without `typing_extensions` where that is safe: every module of openusage that
uses msgspec takes it from here (`from openusage._msgspec import msgspec`).

msgspec's `_utils` imports `typing_extensions` when it is installed (httpx, anyio and pydantic bring it),
only for `get_type_hints` and `Required`/`NotRequired`, which Python 3.11's `typing` has itself; and
`typing_extensions` imports `inspect` (with `ast`, `dis`, `tokenize`): ~18 ms of every command that
reads a file, measured (docs/speed.md, "msgspec without typing_extensions"). So while msgspec is
first imported, `typing_extensions` is marked as not importable (msgspec then falls back to `typing`,
as it does where `typing_extensions` is not installed), and the mark is taken away at once: anything
imported later gets the real module. If `typing_extensions` is already loaded (a test run, a resident
front end that imported httpx first), or another thread runs (it might import it meanwhile), nothing is
done. If a msgspec release ever needs it outright, the
import fails, and msgspec is then imported again the ordinary way.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


def import_without(name: str, blocked: str) -> ModuleType:
    """Module `name`, imported while `blocked` cannot be (unless either is loaded already); if `name`
    cannot be imported that way, everything that attempt loaded under `name` is dropped and `name` is
    imported as usual."""
    if name in sys.modules or blocked in sys.modules or _other_threads():
        return importlib.import_module(name)
    sys.modules[blocked] = None  # type: ignore[assignment]  # None in sys.modules: `import blocked` raises ImportError
    try:
        return importlib.import_module(name)
    except ImportError:
        for loaded in [module for module in sys.modules if module == name or module.startswith(name + ".")]:
            del sys.modules[loaded]
    finally:
        if sys.modules.get(blocked, False) is None:
            del sys.modules[blocked]
    return importlib.import_module(name)


def _other_threads() -> bool:
    """Whether another thread runs (a resident front end's): the mark is process-wide, and that thread
    could be importing `blocked` itself meanwhile, so then nothing is marked."""
    threading = sys.modules.get("threading")  # not imported: no thread was started through it
    return threading is not None and threading.active_count() > 1


import_without("msgspec", "typing_extensions")

import msgspec  # noqa: E402  # loaded above, so this only binds the name

__all__ = ["import_without", "msgspec"]  # re-exported: the modules that use msgspec take it from here
