"""The price table: genai-prices' model lookup and every model's schedule, made when the package is built.

Pricing a run with nothing priced in its cache (every `--no-cache` run, a first run) needs, for each
(model name, provider hint), the schedule of the model genai-prices resolves the name to, and the
data's version and date. Importing genai-prices for that costs ~0.19 s of CPU (pydantic, its 1.6 MB
data module building objects). The table holds what those answers are made of, as plain values: each
provider's id, its `provider_match` and `model_match` clauses and fallback providers, each model's
`match` clause and its schedule (`pricing._schedule`), and `pricing.data_info_here()`. A run loads it
(~1 ms) and resolves names with `Table.schedule`, which follows genai-prices' own lookup step by step
(`DataSnapshot.find_provider_model`, `find_provider`, `Provider.find_model`, the clauses' `is_match`).

The table is keyed by what identifies the installed genai-prices without importing it (`installed`):
the version in its dist-info directory's name and a crc32 of its modules' bytes (~2 ms), with this
module's `FORMAT` and `pricing.PRICING_VERSION`. It answers only when the key matches the installed
package; anything else (no table, an unreadable one, one made from another genai-prices, or
`OPENUSAGE_PRICE_TABLE=0`) leaves pricing to genai-prices itself, as before (pricefetch.py).

Where it lives: `_prices.bin` beside this module, written by setup.py's build (`build_table`), or
`prices.bin` in the cache directory, written by `python -m openusage.pricetable build` when the
package directory cannot be written. `OPENUSAGE_PRICE_TABLE=0` turns the table off, `1` (or unset)
reads it from those places, and a path in it names the only table to read. `build` refuses to write
a table that disagrees with genai-prices on any model id (`check`): a genai-prices whose lookup
changed in a way this module does not follow gets no table, and is imported as before.
"""

from __future__ import annotations

import marshal
import os
import re
import sys
import zlib
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from openusage.cost import Schedule

FORMAT = 2  # bumped whenever the table's layout or the lookup below changes
NAME = "_prices.bin"
CACHE_NAME = "prices.bin"
_MAGIC = b"openusage-price-table\0"

# What a lookup in a table damaged inside raises (a clause of no known kind, a bad index): the caller
# then asks genai-prices instead.
DAMAGED = (ValueError, TypeError, IndexError, re.error)

# A match clause as stored: (kind, argument). Kinds: "=" equals, "^" starts with, "$" ends with, "in"
# contains (argument lowercased, as genai-prices compares), "re" regex (as written), "or" / "and" (a
# tuple of clauses).
Clause = tuple[str, Any]


class Provider(NamedTuple):
    """One genai-prices provider as the lookup needs it; `models`: (match clause, schedule index)."""

    id: str
    provider_match: Clause | None
    model_match: Clause | None
    fallbacks: tuple[str, ...]
    models: tuple[tuple[Clause, int], ...]


# -- what is installed ------------------------------------------------------------------------------------
def installed() -> tuple[Any, ...] | None:
    """What identifies the installed genai-prices, without importing it: its version (from its
    dist-info directory's name), its modules' total size and crc32; None when it is not installed or
    cannot be identified that way (then no table answers)."""
    from openusage.pricing import PRICING_VERSION, genai_prices_dir

    package = genai_prices_dir()
    if package is None:
        return None
    try:
        versions = [name[len("genai_prices-"):-len(".dist-info")] for name in os.listdir(package.parent)
                    if name.startswith("genai_prices-") and name.endswith(".dist-info")]
        modules = sorted(name for name in os.listdir(package) if name.endswith(".py"))
        crc, size = 0, 0
        for name in modules:
            with open(package / name, "rb") as file:
                body = file.read()
            crc, size = zlib.crc32(name.encode(), zlib.crc32(body, crc)), size + len(body)
    except OSError:
        return None
    if len(versions) != 1:  # none (an editable genai-prices), or two: which one is imported is unclear
        return None
    return (FORMAT, PRICING_VERSION, versions[0], size, crc)


# -- the lookup -----------------------------------------------------------------------------------------------
def _is_match(clause: Clause, text: str) -> bool:
    """genai-prices' `Clause*.is_match(text)`: every comparison but the regex lowercases `text`."""
    kind, argument = clause
    if kind == "=":
        return bool(text.lower() == argument)
    if kind == "^":
        return text.lower().startswith(argument)
    if kind == "$":
        return text.lower().endswith(argument)
    if kind == "in":
        return argument in text.lower()
    if kind == "re":
        return re.search(argument, text) is not None
    if kind == "or":
        return any(_is_match(sub, text) for sub in argument)
    if kind == "and":
        return all(_is_match(sub, text) for sub in argument)
    raise ValueError(f"unknown clause {kind!r}")


# genai-prices retries a name that matched nothing with a compact date suffix (-20251211) written
# with dashes (-2025-12-11), when the digits are a real date.
_COMPACT_DATE = re.compile(r"-(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=-|:|$)")


def _dashed_date(found: re.Match[str]) -> str:
    year, month, day = (int(part) for part in found.groups())
    try:
        date(year, month, day)
    except ValueError:
        return found.group(0)
    return f"-{year:04d}-{month:02d}-{day:02d}"


class Table:
    """The loaded table: answers `pricing.database_schedules` and `pricing.data_info`."""

    def __init__(self, providers: tuple[Provider, ...], schedules: tuple[Schedule, ...],
                 info: tuple[str, str | None]) -> None:
        self.providers = providers
        self.schedules = schedules
        self.info = info

    def schedule(self, model: str, hint: str | None) -> Schedule | None:
        """The schedule `pricing.database_schedules_here` gives (model, hint): the model genai-prices'
        `calc_price(…, model, provider_id=hint)` finds, else the one it finds without the hint."""
        for provider_id in (hint, None) if hint else (None,):
            index = self.find(model, provider_id)
            if index is not None:
                return self.schedules[index]
        return None

    def find(self, model_ref: str, provider_id: str | None) -> int | None:
        """The schedule index of the model genai-prices' `find_provider_model` finds; None where it
        raises LookupError."""
        ref = model_ref.lower()
        if provider_id and provider_id.lower() == "litellm" and "/" in ref:
            named, rest = ref.split("/", 1)
            if named and self._by_id(named) is not None:
                provider_id, ref = named, rest
        provider = self._provider(ref, provider_id)
        return None if provider is None else self._find_model(provider, ref)

    def _by_id(self, provider_id: str) -> Provider | None:
        wanted = provider_id.lower().strip()
        for provider in self.providers:
            if provider.id == wanted:
                return provider
        for provider in self.providers:
            if provider.provider_match is not None and _is_match(provider.provider_match, wanted):
                return provider
        return None

    def _provider(self, ref: str, provider_id: str | None) -> Provider | None:
        if provider_id is not None:
            found = self._by_id(provider_id)
            if found is not None or provider_id.lower() != "litellm":
                return found
        if ref:
            for provider in self.providers:
                if provider.model_match is not None and _is_match(provider.model_match, ref):
                    return provider
        return None

    def _find_model(self, provider: Provider, ref: str) -> int | None:
        ref = ref.lower()
        found = self._match_model(provider, ref, fall_back=True)
        if found is not None:
            return found
        dashed = _COMPACT_DATE.sub(_dashed_date, ref)
        return self._match_model(provider, dashed, fall_back=True) if dashed != ref else None

    def _match_model(self, provider: Provider, ref: str, *, fall_back: bool) -> int | None:
        text = ref.lower()  # ModelInfo.is_match lowercases the name before its clause sees it
        for clause, index in provider.models:
            if _is_match(clause, text):
                return index
        if fall_back:  # one step only, as genai-prices does
            for provider_id in provider.fallbacks:
                other = next((p for p in self.providers if p.id == provider_id), None)
                if other is not None:
                    found = self._match_model(other, ref, fall_back=False)
                    if found is not None:
                        return found
        return None


# -- reading it --------------------------------------------------------------------------------------------
# The table loaded, with the installed data's fingerprint then (a stat: a resident process notices a
# genai-prices upgraded under it, and loads again).
_LOADED: list[tuple[str | None, Table | None]] = []


def current(env: Mapping[str, str] | None = None) -> Table | None:
    """The table made from the installed genai-prices, loaded once per process (again when the
    installed data changed); None when there is none that fits (then genai-prices answers)."""
    from openusage.pricing import data_fingerprint

    stamp = data_fingerprint()
    if not _LOADED or _LOADED[0][0] != stamp:
        _LOADED[:] = [(stamp, _load(os.environ if env is None else env))]
    return _LOADED[0][1]


def forget() -> None:
    """Load the table again on the next `current` (after one was written)."""
    _LOADED.clear()


def places(env: Mapping[str, str]) -> tuple[Path, ...]:
    """Where a table is looked for, in order: beside this module, then in the cache directory."""
    from openusage import paths

    return (Path(__file__).with_name(NAME), paths.cache_path(env).with_name(CACHE_NAME))


def _load(env: Mapping[str, str]) -> Table | None:
    # OPENUSAGE_PRICE_TABLE: "0" uses no table (genai-prices answers, as before the table: for
    # measuring both ways); unset, empty or "1" the usual places; a path, that file only (tests give a
    # damaged or foreign one).
    chosen = env.get("OPENUSAGE_PRICE_TABLE", "")
    if chosen == "0":
        return None
    key: tuple[Any, ...] | None = None
    for place in places(env) if chosen in {"", "1"} else (Path(chosen),):
        try:
            body = place.read_bytes()
        except OSError:
            continue
        if key is None:
            key = installed()
            if key is None:
                return None
        table = decode(body, key)
        if table is not None:
            return table
    return None


def decode(body: bytes, key: tuple[Any, ...]) -> Table | None:
    """The table in `body` when it was made from the genai-prices `key` identifies; else None (another
    version, a damaged or foreign file)."""
    if not body.startswith(_MAGIC):
        return None
    payload = body[len(_MAGIC) + 4:]
    if body[len(_MAGIC):len(_MAGIC) + 4] != zlib.crc32(payload).to_bytes(4, "little"):
        return None  # damaged (or cut short) since it was written
    try:
        stored_key, info, raw_providers, schedules = marshal.loads(payload)
        if stored_key != key:
            return None
        providers = tuple(Provider(str(pid), pmatch, mmatch, tuple(fallbacks), tuple(models))
                          for pid, pmatch, mmatch, fallbacks, models in raw_providers)
        version, day = info
        return Table(providers, tuple(schedules), (str(version), day))
    except (EOFError, ValueError, TypeError):
        return None


# -- making it (needs genai-prices) ----------------------------------------------------------------------
def _clause(logic: Any) -> Clause:
    """A genai-prices match clause as a plain value (an unknown kind raises: no table then)."""
    from genai_prices import types

    simple: tuple[tuple[type, str, str], ...] = (
        (types.ClauseEquals, "=", "equals"), (types.ClauseStartsWith, "^", "starts_with"),
        (types.ClauseEndsWith, "$", "ends_with"), (types.ClauseContains, "in", "contains"))
    for kind, code, field in simple:
        if type(logic) is kind:
            return (code, str(getattr(logic, field)).lower())
    if type(logic) is types.ClauseRegex:
        return ("re", str(logic.regex))
    if type(logic) is types.ClauseOr:
        return ("or", tuple(_clause(sub) for sub in logic.or_))
    if type(logic) is types.ClauseAnd:
        return ("and", tuple(_clause(sub) for sub in logic.and_))
    raise TypeError(f"genai-prices match clause of an unknown kind: {type(logic).__name__}")


def make() -> Table:
    """The table of the installed genai-prices (imports it)."""
    from genai_prices.data import providers as data

    from openusage import pricing

    schedules: list[Schedule] = []
    index_of: dict[Schedule, int] = {}
    providers: list[Provider] = []
    for provider in data:
        models: list[tuple[Clause, int]] = []
        for model in provider.models:
            schedule = pricing._schedule(model)
            index = index_of.get(schedule)
            if index is None:
                index = index_of[schedule] = len(schedules)
                schedules.append(schedule)
            models.append((_clause(model.match), index))
        providers.append(Provider(
            str(provider.id), None if provider.provider_match is None else _clause(provider.provider_match),
            None if provider.model_match is None else _clause(provider.model_match),
            tuple(provider.fallback_model_providers or ()), tuple(models)))
    info = pricing.data_info_here()
    return Table(tuple(providers), tuple(schedules), (info.version, info.date))


def encode(table: Table, key: tuple[Any, ...]) -> bytes:
    """The file's bytes: a magic string, a crc32 of the rest, then the table and its key, marshalled."""
    raw = tuple((p.id, p.provider_match, p.model_match, p.fallbacks, p.models) for p in table.providers)
    payload = marshal.dumps((key, table.info, raw, table.schedules))
    return _MAGIC + zlib.crc32(payload).to_bytes(4, "little") + payload


def check_names() -> list[tuple[str, str | None]]:
    """(name, hint) pairs `build` checks against genai-prices: every model id with its own provider
    and without a hint (imports genai-prices)."""
    from genai_prices.data import providers as data

    return [(model.id, hint) for provider in data for model in provider.models for hint in (provider.id, None)]


def check(table: Table, pairs: Iterable[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """The pairs for which the table's schedule differs from genai-prices' own (imports it)."""
    from openusage import pricing

    wanted = list(pairs)
    truth = pricing.database_schedules_here(wanted)
    return [pair for pair in wanted if table.schedule(*pair) != truth[pair]]


def build_table(target: Path) -> Path:
    """Make the table of the installed genai-prices, check it, and write it to `target` (atomically)."""
    key = installed()
    if key is None:
        raise LookupError("genai-prices is not installed, or not from a wheel (no dist-info)")
    table = make()
    wrong = check(table, check_names())
    if wrong:
        raise LookupError(f"the table disagrees with genai-prices on {len(wrong)} names, e.g. {wrong[0]!r}")
    body = encode(table, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}")
    temporary.write_bytes(body)
    os.replace(temporary, target)
    return target


def main(argv: list[str]) -> int:
    """`python -m openusage.pricetable build [PATH]`: (re)make the table, beside this module when that
    can be written, else in the cache directory (or at PATH)."""
    if not argv or argv[0] != "build" or len(argv) > 2:
        print("usage: python -m openusage.pricetable build [PATH]", file=sys.stderr)
        return 2
    chosen = [Path(argv[1])] if len(argv) == 2 else list(places(os.environ))
    last = "nowhere to write it"
    for target in chosen:
        try:
            written = build_table(target)
        except OSError as error:
            last = f"cannot write {target}: {error.strerror or error}"
            continue
        except Exception as error:  # any failure of genai-prices or of the check: no table, said in one line
            print(f"openusage: no price table: {error}", file=sys.stderr)
            return 1
        print(f"price table written: {written}")
        return 0
    print(f"openusage: no price table: {last}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
