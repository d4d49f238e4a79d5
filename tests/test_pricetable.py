"""The price table made at build time (pricetable.py) answers exactly as genai-prices does.

For every model genai-prices knows (and its provider), for variants of its name, for the alias table's
names and for names it does not know, with and without provider hints, the table gives the same
schedule (or None) as `pricing.database_schedules_here`, which asks genai-prices' `calc_price`; and the
same `data_info`. A missing, damaged or foreign table, or one made from another genai-prices than the
one installed, is not used: the answers are genai-prices' own, without a traceback. A cold run with a
valid table never imports genai-prices, in the command or in a child.
"""

from __future__ import annotations

import json
import marshal
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from kimi_home import NOW, KimiHome, priced_home
from openusage import pricetable, pricing

OUR_HINTS = ("moonshot", "openai")  # the providers' `upstream_provider`s
UNKNOWN = ("", "unknown", "codex-auto-review", "gpt-99-ultra", "kimi-k9", "not a model", "kimi-code/kimi-for-coding",
           "K3", " k3 ", "KIMI-K2.6", "moonshot/kimi-k2.6", "openai/gpt-5", "gpt-5.2-20251211", "gpt-5.2-20251299",
           "claude-sonnet-4-5-20250929", "o3:free", "x" * 300)


@pytest.fixture(scope="module")
def table() -> pricetable.Table:
    """The table of the installed genai-prices, made in this process."""
    return pricetable.make()


def _providers() -> list[Any]:
    from genai_prices.data import providers

    return list(providers)


def _clause_texts(logic: Any) -> list[str]:
    """The strings a match clause compares with (its equals, prefixes, suffixes, parts)."""
    texts = [str(getattr(logic, field)) for field in ("equals", "starts_with", "ends_with", "contains")
             if hasattr(logic, field)]
    for sub in (*getattr(logic, "or_", ()), *getattr(logic, "and_", ())):
        texts.extend(_clause_texts(sub))
    return texts


def _differences(table: pricetable.Table, pairs: set[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    wanted = sorted(pairs, key=repr)
    truth = pricing.database_schedules_here(wanted)
    assert len(truth) == len(wanted)
    return [pair for pair in wanted if table.schedule(*pair) != truth[pair]]


def test_every_model_id_with_and_without_hints_gets_genai_prices_own_schedule(table: pricetable.Table) -> None:
    # the providers that fall back to others' models (Azure to OpenAI's, …) as hints for every model too
    falling_back = tuple(provider.id for provider in _providers() if provider.fallback_model_providers)
    assert falling_back
    pairs = {(model.id, hint) for provider in _providers() for model in provider.models
             for hint in (None, provider.id, *OUR_HINTS, *falling_back)}
    assert len(pairs) > 2000
    assert _differences(table, pairs) == []


def test_name_variants_get_genai_prices_own_schedule(table: pricetable.Table) -> None:
    pairs: set[tuple[str, str | None]] = set()
    for provider in _providers():
        for model in provider.models:
            # case, "provider/model", compact and dashed dates, other suffixes; each string its clause
            # compares with, extended (a prefix or a part of a longer name)
            texts = _clause_texts(model.match)
            pairs.update((name, None) for name in (model.id.upper(), f"{provider.id}/{model.id}", f"{model.id}:free",
                                                   f"{model.id}-20251211", f"{model.id}-2025-12-11",
                                                   f"{model.id}-preview", *(f"x-{text}" for text in texts)))
            pairs.update((name, provider.id) for name in (model.id.upper(), f"{provider.id}/{model.id}",
                                                          *(f"{text}-x" for text in texts)))
    assert _differences(table, pairs) == []


def test_alias_names_unknown_names_and_odd_hints_get_genai_prices_own_schedule(table: pricetable.Table) -> None:
    names = {*UNKNOWN, *(name for row in pricing.ALIASES for name in (*row.names, row.model))}
    hints: set[str | None] = {None, "", "litellm", "LiteLLM", " MOONSHOT ", "nonexistent", "moonshotai", "azure",
                              "google", *(provider.id for provider in _providers())}
    pairs = {(name, hint) for name in names for hint in hints}
    # litellm's "provider/model" names, with a provider it knows and one it does not
    pairs.update((f"{prefix}/{model}", "litellm") for prefix in ("openai", "moonshotai", "anthropic", "nosuch", "")
                 for model in ("gpt-5", "kimi-k2.6", "claude-sonnet-4-5", "nothing-like-it"))
    assert _differences(table, pairs) == []


def test_the_table_has_genai_prices_data_info(table: pricetable.Table) -> None:
    assert pricing.DataInfo(*table.info) == pricing.data_info_here()


def test_the_installed_table_fits_the_installed_genai_prices_and_answers() -> None:
    pricetable.forget()
    installed = pricetable.current()
    assert installed is not None, "no price table: reinstall (pip install -e .) or python -m openusage.pricetable build"
    assert pricing.data_info() == pricing.data_info_here()
    wanted = [("kimi-k2.6", "moonshot"), ("gpt-5-codex", "openai"), ("kimi-k2.8-preview", "moonshot")]
    assert pricing.database_schedules(wanted) == pricing.database_schedules_here(wanted)


def test_the_check_finds_a_table_that_disagrees(table: pricetable.Table) -> None:
    first = table.providers[0]
    broken = first._replace(models=((("=", "no-such-model"), first.models[0][1]), *first.models[1:]))
    wrong = pricetable.Table((broken, *table.providers[1:]), table.schedules, table.info)
    assert pricetable.check(wrong, pricetable.check_names()) != []
    assert pricetable.check(table, pricetable.check_names()) == []


# -- a table that cannot be used ---------------------------------------------------------------------------
def test_a_damaged_or_foreign_table_is_not_used(table: pricetable.Table) -> None:
    key = pricetable.installed()
    assert key is not None
    body = pricetable.encode(table, key)
    assert pricetable.decode(body, key) is not None
    other_version = (*key[:2], "0.0.1", *key[3:])
    other_bytes = (*key[:4], key[4] ^ 1)
    magic = b"openusage-price-table\0"

    def sealed(payload: bytes) -> bytes:
        return magic + zlib.crc32(payload).to_bytes(4, "little") + payload

    flipped = bytearray(body)
    flipped[len(body) // 2] ^= 0x10
    for bad in (b"", b"garbage", body[: len(body) // 2], body[:-1], bytes(flipped), magic + marshal.dumps("x"),
                sealed(marshal.dumps("x")), sealed(marshal.dumps((key, 1, 2))), sealed(b"\xff" * 20),
                pricetable.encode(table, other_version), pricetable.encode(table, other_bytes),
                body.replace(b"openusage", b"openusagf", 1)):
        assert pricetable.decode(bad, key) is None


def test_a_table_damaged_inside_is_answered_for_by_genai_prices(tmp_path: Path, table: pricetable.Table,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A table whose seal holds but whose clauses cannot be read (written by a faulty build): the
    answers are genai-prices' own, without a traceback."""
    key = pricetable.installed()
    assert key is not None
    providers = tuple(p._replace(models=tuple((("?", "x"), index) for _, index in p.models)) for p in table.providers)
    place = tmp_path / "prices.bin"
    place.write_bytes(pricetable.encode(pricetable.Table(providers, table.schedules, table.info), key))
    monkeypatch.setenv("OPENUSAGE_PRICE_TABLE", str(place))
    pricetable.forget()
    assert pricetable.current() is not None
    wanted = [("kimi-k2.6", "moonshot"), ("gpt-5-codex", "openai")]
    assert pricing.database_schedules(wanted) == pricing.database_schedules_here(wanted)
    pricetable.forget()


def test_a_table_named_by_the_environment_that_does_not_fit_is_not_used(tmp_path: Path, table: pricetable.Table,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    key = pricetable.installed()
    assert key is not None
    place = tmp_path / "prices.bin"
    monkeypatch.setenv("OPENUSAGE_PRICE_TABLE", str(place))
    for body in (None, b"\x00" * 100, pricetable.encode(table, (*key[:2], "0.0.1", *key[3:]))):
        if body is not None:
            place.write_bytes(body)
        pricetable.forget()
        assert pricetable.current() is None
    place.write_bytes(pricetable.encode(table, key))
    pricetable.forget()
    assert pricetable.current() is not None
    monkeypatch.setenv("OPENUSAGE_PRICE_TABLE", "0")
    pricetable.forget()
    assert pricetable.current() is None
    monkeypatch.setenv("OPENUSAGE_PRICE_TABLE", "1")  # the usual places: the installed table
    pricetable.forget()
    assert pricetable.current() is not None
    pricetable.forget()


# -- building it -------------------------------------------------------------------------------------------------
def test_build_writes_a_table_that_fits_the_installed_genai_prices(tmp_path: Path, table: pricetable.Table,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "deep" / "prices.bin"
    assert pricetable.main(["build", str(target)]) == 0
    key = pricetable.installed()
    assert key is not None
    built = pricetable.decode(target.read_bytes(), key)
    assert built is not None
    assert (built.providers, built.schedules, built.info) == (table.providers, table.schedules, table.info)
    assert capsys.readouterr().out == f"price table written: {target}\n"


def test_build_says_in_one_line_why_it_wrote_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert pricetable.main(["build", str(blocker / "prices.bin")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("openusage: no price table: cannot write")
    assert err.count("\n") == 1
    assert pricetable.main(["rebuild"]) == 2
    assert pricetable.main([]) == 2


# -- whole commands, in subprocesses -------------------------------------------------------------------------
@pytest.fixture
def home(isolated_env: Path) -> KimiHome:
    return priced_home(isolated_env / ".kimi")


def _snapshot(env: dict[str, str], *args: str) -> tuple[dict[str, Any], set[str], str]:
    """`python -X importtime -m openusage snapshot --json *args`: its document, the modules it and any
    child imported (a child's stderr is the command's), and its stderr without the import lines."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "openusage", "snapshot", "--json", *args],
                          env={**os.environ, "OPENUSAGE_NOW": NOW, **env}, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    names = {ln.rpartition("|")[2].strip() for ln in lines if ln.startswith("import time:")}
    said = "\n".join(ln for ln in lines if not ln.startswith("import time:"))
    document = json.loads(done.stdout)
    document.pop("generated_at", None)
    return document, names | {name.partition(".")[0] for name in names}, said


def test_a_cold_and_a_first_run_with_the_table_never_import_genai_prices(home: KimiHome, tmp_path: Path) -> None:
    with_table, imported, said = _snapshot({}, "--no-cache")
    assert "genai_prices" not in imported
    assert "pydantic" not in imported
    assert "openusage.pricetable" in imported
    assert said == ""
    without, imported, _ = _snapshot({"OPENUSAGE_PRICE_TABLE": "0"}, "--no-cache")
    assert "genai_prices" in imported  # the probe sees genai-prices where it is imported
    assert with_table == without
    assert with_table["snapshots"][0]["metrics"]["cost_usd"]["used"] > 0
    assert with_table["prices"]["version"] == pricing.data_info_here().version
    first, imported, _ = _snapshot({"OPENUSAGE_CACHE_DIR": str(tmp_path / "first")})
    assert "genai_prices" not in imported
    assert first == with_table
    warm, imported, _ = _snapshot({"OPENUSAGE_CACHE_DIR": str(tmp_path / "first")})
    assert "openusage.pricetable" not in imported  # a warm run has its costs cached: no table is read
    assert warm == with_table


def test_a_cold_run_with_a_table_that_does_not_fit_prices_as_genai_prices_does(home: KimiHome, tmp_path: Path,
                                                                             table: pricetable.Table) -> None:
    key = pricetable.installed()
    assert key is not None
    expected, _, _ = _snapshot({"OPENUSAGE_PRICE_TABLE": "0"}, "--no-cache")
    place = tmp_path / "prices.bin"
    for body in (None, b"openusage-price-table\0\x00\x01", pricetable.encode(table, (*key[:2], "0.0.1", *key[3:]))):
        if body is not None:
            place.write_bytes(body)
        document, imported, said = _snapshot({"OPENUSAGE_PRICE_TABLE": str(place)}, "--no-cache")
        assert document == expected
        assert "genai_prices" in imported
        assert said == ""


def test_a_genai_prices_other_than_the_tables_is_noticed(home: KimiHome, tmp_path: Path) -> None:
    """genai-prices upgraded after openusage was built: the installed table is not used, the prices and
    the version shown are the new package's."""
    import genai_prices

    site = tmp_path / "site"
    shutil.copytree(Path(genai_prices.__file__).parent, site / "genai_prices",
                    ignore=shutil.ignore_patterns("__pycache__"))
    info = site / "genai_prices-9.9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: genai-prices\nVersion: 9.9.9\n")
    data = site / "genai_prices" / "data.py"
    data.write_text(data.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    env = {"PYTHONPATH": str(site)}
    document, imported, said = _snapshot(env, "--no-cache")
    assert document["prices"]["version"] == "9.9.9"
    assert "genai_prices" in imported
    assert said == ""
    check = subprocess.run([sys.executable, "-c", "from openusage import pricetable; print(pricetable.current())"],
                           env={**os.environ, **env}, capture_output=True, text=True, check=True, timeout=60)
    assert check.stdout == "None\n"


def test_a_genai_prices_changed_under_a_running_process_is_noticed(tmp_path: Path) -> None:
    """A resident process keeps its table only while the installed data is the one it was made from."""
    import genai_prices

    site = tmp_path / "site"
    shutil.copytree(Path(genai_prices.__file__).parent, site / "genai_prices",
                    ignore=shutil.ignore_patterns("__pycache__"))
    version = pricing.data_info_here().version
    (site / f"genai_prices-{version}.dist-info").mkdir()  # the same package, where the process finds it
    data = site / "genai_prices" / "data.py"
    script = ("import sys; from openusage import pricetable; print(pricetable.current() is not None); "
              "open(sys.argv[1], 'a').write('# changed\\n'); print(pricetable.current() is not None)")
    done = subprocess.run([sys.executable, "-c", script, str(data)], env={**os.environ, "PYTHONPATH": str(site)},
                          capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout == "True\nFalse\n"
