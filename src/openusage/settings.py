"""settings.json → immutable records. Every error names the file and the line/column or key path.

Shape: `{"auto_detect": true, "accounts": [{"id": "...", "provider": "kimi_cli", "extra": {...}}],
"prices": {"aliases": {"<name>": "<model>"}, "models": {"<model>": {"input": 1.0, "output": 4.0, ...}}}}`.
A missing file at the default place means the defaults; a file named explicitly must exist. Anything
present must be right, or the user hears exactly where not: an unknown key (at the top, in an account,
or in its `extra`, whose keys each provider declares) is an error naming the nearest known key, since
a typo silently ignored looks like a setting that took effect.
"""

import codecs
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from openusage.errors import SettingsError
from openusage.files import read_small
from openusage.pricing import UserPrices
from openusage.providers.base import Account


class Settings(NamedTuple):
    path: Path
    auto_detect: bool = True
    accounts: tuple[Account, ...] = ()
    prices: UserPrices = UserPrices()


TOP_KEYS = ("auto_detect", "accounts", "prices")
ACCOUNT_KEYS = ("id", "provider", "extra")


def load_settings(path: Path, extra_keys: Mapping[str, Collection[str]], *, named_by: str | None = None) -> Settings:
    """The settings in `path`. `extra_keys`: each known provider's id and the keys its accounts'
    `extra` may hold. `named_by`: the variable that named the file explicitly; then a missing file is
    an error, not the defaults (a typo in the name must not look like a file without accounts)."""
    try:
        raw = read_small(str(path))  # regular files only, never blocking, bounded
    except FileNotFoundError as exc:
        if named_by is not None:
            raise SettingsError(f"settings file {path} (named by {named_by}) does not exist") from exc
        return Settings(path)
    except OSError as exc:
        raise SettingsError(f"settings file {path}: cannot be read: {exc.strerror or exc}") from exc
    try:
        # A byte order mark is not JSON, but editors on Windows write one: it is not part of the text.
        text = raw.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"settings file {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    import json  # only users with a settings file pay for the import

    try:
        doc = json.loads(text, object_pairs_hook=_once_each)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"settings file {path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError as exc:  # nested deeper than any settings file needs: not one
        raise SettingsError(f"settings file {path}: invalid JSON: nested too deep to be settings") from exc
    repeated = _first_repeated(doc, "")
    if repeated is not None:
        where, key = repeated
        raise SettingsError(f"settings file {path}: {where}{key}: written twice in one object: which one is "
                            "meant is not clear")
    return _parse(path, doc, extra_keys)


class _Repeated(dict[str, Any]):
    """A JSON object that wrote `key` twice (JSON keeps the last of two, so an earlier
    `"auto_detect": true` would silently do nothing): kept, so that the error can say where it is."""

    def __init__(self, pairs: list[tuple[str, Any]], key: str) -> None:
        super().__init__(pairs)
        self.key = key


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return _Repeated(pairs, key)
        seen.add(key)
    return dict(pairs)


def _first_repeated(value: Any, where: str) -> tuple[str, str] | None:
    """The path of the first object in `value` that wrote a key twice (`accounts[0].extra.`), and the
    key; None when none did."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, _Repeated):
            return at, item.key
        if isinstance(item, dict):
            stack.extend((child, f"{at}{key}.") for key, child in reversed(list(item.items())))
        elif isinstance(item, list):
            stack.extend((child, f"{at.rstrip('.')}[{index}].") for index, child in reversed(list(enumerate(item))))
    return None


def _parse(path: Path, doc: Any, extra_keys: Mapping[str, Collection[str]]) -> Settings:
    def fail(where: str, problem: str) -> SettingsError:
        return SettingsError(f"settings file {path}: {where}: {problem}")

    def check_keys(obj: dict[str, Any], prefix: str, known: Collection[str]) -> None:
        for key in obj:
            if key not in known:
                raise fail(prefix + key, _unknown(key, known))

    if not isinstance(doc, dict):
        raise fail("top level", f"expected an object, found {_kind(doc)}")
    check_keys(doc, "", TOP_KEYS)
    auto_detect = doc.get("auto_detect", True)
    if not isinstance(auto_detect, bool):
        raise fail("auto_detect", f"expected true or false, found {_kind(auto_detect)}")
    entries = doc.get("accounts", [])
    if not isinstance(entries, list):
        raise fail("accounts", f"expected a list, found {_kind(entries)}")
    accounts: list[Account] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"accounts[{index}]"
        if not isinstance(entry, dict):
            raise fail(where, f"expected an object, found {_kind(entry)}")
        check_keys(entry, f"{where}.", ACCOUNT_KEYS)
        account_id = entry.get("id")
        if not isinstance(account_id, str) or not account_id:
            raise fail(f"{where}.id", f"expected a non-empty string, found {_kind(account_id)}")
        if account_id in seen:
            raise fail(f"{where}.id", f"{account_id!r} is already used by another account")
        seen.add(account_id)
        provider = entry.get("provider")
        if not isinstance(provider, str) or provider not in extra_keys:
            known = ", ".join(sorted(extra_keys))
            raise fail(f"{where}.provider", f"expected one of {known}, found {_describe(provider)}")
        extra = entry.get("extra", {})
        if not isinstance(extra, dict):
            raise fail(f"{where}.extra", f"expected an object, found {_kind(extra)}")
        check_keys(extra, f"{where}.extra.", extra_keys[provider])
        for key, value in extra.items():
            if not isinstance(value, str):
                raise fail(f"{where}.extra.{key}", "expected a string (a path, a URL, a variable name or a number"
                                                   f" in quotes), found {_kind(value)}")
        accounts.append(Account(account_id, provider, dict(extra), origin="configured"))
    return Settings(path, auto_detect, tuple(accounts), _prices(doc.get("prices", {}), fail))


_RATE_KEYS = ("input", "output", "cache_read", "cache_write")


def _prices(section: Any, fail: Callable[[str, str], SettingsError]) -> UserPrices:
    """The `prices` section: aliases (name → model) and the user's own rates per million tokens.
    input and output are required; a missing cache rate bills those tokens as input, as the price
    database does for a provider that prices no cache."""
    if not isinstance(section, dict):
        raise fail("prices", f"expected an object, found {_kind(section)}")
    for key in section:
        if key not in ("aliases", "models"):
            raise fail(f"prices.{key}", _unknown(key, ("aliases", "models")))
    aliases = section.get("aliases", {})
    if not isinstance(aliases, dict):
        raise fail("prices.aliases", f"expected an object, found {_kind(aliases)}")
    for name, model in aliases.items():
        if not isinstance(model, str) or not model:
            raise fail(f"prices.aliases.{name}", f"expected a model name, found {_describe(model)}")
    models = section.get("models", {})
    if not isinstance(models, dict):
        raise fail("prices.models", f"expected an object, found {_kind(models)}")
    rates: dict[str, tuple[float, float, float, float, float]] = {}
    for model, entry in models.items():
        where = f"prices.models.{model}"
        if not isinstance(entry, dict):
            raise fail(where, f"expected an object of rates per million tokens, found {_kind(entry)}")
        for key in entry:
            if key not in _RATE_KEYS:
                raise fail(f"{where}.{key}", _unknown(key, _RATE_KEYS))
        values: dict[str, float] = {}
        for key in _RATE_KEYS:
            value = entry.get(key)
            if value is None and key in ("cache_read", "cache_write"):
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
                raise fail(f"{where}.{key}", f"expected a price in USD per million tokens (a number >= 0), "
                                             f"found {_describe(value)}")
            values[key] = float(value)
        rate_in = values["input"]
        read, write = values.get("cache_read", rate_in), values.get("cache_write", rate_in)
        rates[model] = (rate_in, values["output"], read, write, 0.0)
    return UserPrices(dict(aliases), rates)


def _unknown(key: str, known: Collection[str]) -> str:
    """What to say of an unknown key: the nearest known one, or every known one when none is near."""
    import difflib  # only a settings file with a wrong key pays for the import

    near = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if near:
        return f"unknown key; did you mean {near[0]}?"
    return "unknown key; known keys: " + (", ".join(known) or "none")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def _describe(value: Any) -> str:
    return repr(value) if isinstance(value, str) else _kind(value)
