"""Estimated cost at list prices: per call, at the call's own time, from genai-prices' bundled data,
the dated alias table and the user's own prices. Every expected figure is computed by hand here from
the rates the test names (USD per million tokens)."""

from __future__ import annotations

import json
import random
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import genai_prices
import msgspec
import pytest
from genai_prices.data import providers

from kimi_code_home import KimiCodeHome, code_env, ms, sid
from kimi_home import (
    GROUP,
    KimiHome,
    at,
    env_for,
    explain,
    invoke,
    line,
    only_snapshot,
    run_snapshot,
    status_update,
    uid,
)
from openusage import pricing
from openusage.calls import CallRow
from openusage.cost import CallPricer, CallsPricing, ModelCost, Priced, call_cost, grouped_costs, model_costs, rates_at
from openusage.errors import SettingsError
from openusage.settings import load_settings

M = 1_000_000


def cost_of(model: str, when: str | None, counts: tuple[int, int, int, int], hint: str | None = "moonshot",
            user: pricing.UserPrices | None = None) -> ModelCost:
    """One call's cost, priced the way a snapshot prices it (database schedules, aliases, settings)."""
    user = user or pricing.UserPrices()
    schedules = {model: schedule for (model, _), schedule
                 in pricing.database_schedules((t, hint) for t in pricing.targets([model], user)).items()}
    book = pricing.Book(user, schedules)
    inp, out, cr, cw = counts
    return model_costs([(model, None if when is None else at(when), inp, out, cr, cw)], book.resolve)[model]


# -- hand-computed figures, one per provider and rule ---------------------------------------------------

def test_moonshot_call_with_cache_read_prices_each_part_once() -> None:
    # kimi-k2.6: input 0.95, cache read 0.16, output 4. Kimi's input_other is already without cache.
    got = cost_of("kimi-k2.6", "2026-11-20T09:00:00Z", (1520, 312, 79_400, 0))
    assert got.usd == pytest.approx((1520 * 0.95 + 79_400 * 0.16 + 312 * 4) / M, rel=1e-12)
    assert got.usd == pytest.approx(0.015396, rel=1e-12)


def test_codex_cached_input_is_not_billed_twice() -> None:
    # A Codex record: input_tokens 10,000 of which 8,000 cached, output 500. Our record holds input
    # 2,000 (input - cached) and cache_read 8,000. gpt-5: input 1.25, cached 0.125, output 10.
    got = cost_of("gpt-5-codex", "2026-11-20T09:00:00Z", (2_000, 500, 8_000, 0), hint="openai")
    assert got.usd == pytest.approx((2_000 * 1.25 + 8_000 * 0.125 + 500 * 10) / M, rel=1e-12)
    twice = (10_000 * 1.25 + 8_000 * 0.125 + 500 * 10) / M  # what counting cached input as input too would give
    assert got.usd != pytest.approx(twice)


def test_a_call_above_a_tier_threshold_pays_the_tier_rate_on_the_whole_call() -> None:
    # gpt-5.4: input 2.5 / cached 0.25 / output 15 up to a 272,000-token prompt; 5 / 0.5 / 22.5 above.
    # The prompt is input + cache read + cache write: 100,000 + 180,000 = 280,000 > 272,000.
    above = cost_of("gpt-5.4", "2026-11-20T09:00:00Z", (100_000, 1_000, 180_000, 0), hint="openai")
    assert above.usd == pytest.approx((100_000 * 5 + 180_000 * 0.5 + 1_000 * 22.5) / M, rel=1e-12)
    below = cost_of("gpt-5.4", "2026-11-20T09:00:00Z", (100_000, 1_000, 170_000, 0), hint="openai")
    assert below.usd == pytest.approx((100_000 * 2.5 + 170_000 * 0.25 + 1_000 * 15) / M, rel=1e-12)


def test_a_price_change_applies_from_its_date() -> None:
    # o3: 10 in / 40 out until 2025-06-09, then 2 / 8 from 2025-06-10 (UTC dates).
    before = cost_of("o3", "2025-06-09T23:59:59Z", (M, M, 0, 0), hint="openai")
    after = cost_of("o3", "2025-06-10T00:00:00Z", (M, M, 0, 0), hint="openai")
    assert (before.usd, after.usd) == (pytest.approx(50.0), pytest.approx(10.0))


def test_cache_write_is_priced_at_its_own_rate() -> None:
    # kimi-k3: input 3, cache write 3 (5-minute), cache read 0.3, output 15.
    got = cost_of("kimi-k3", "2026-11-20T09:00:00Z", (1_000, 2_000, 30_000, 40_000))
    assert got.usd == pytest.approx((1_000 * 3 + 40_000 * 3 + 30_000 * 0.3 + 2_000 * 15) / M, rel=1e-12)


@pytest.mark.parametrize(("when", "rates"), [
    ("2026-03-01T00:00:00Z", (0.6, 0.1, 3.0)),     # kimi-k2.5
    ("2026-05-01T00:00:00Z", (0.95, 0.16, 4.0)),   # kimi-k2.6, from 2026-04-20T15:28:10Z
    ("2026-07-01T00:00:00Z", (0.95, 0.19, 4.0)),   # kimi-k2.7-code, from 2026-06-12
])
def test_kimi_for_coding_is_priced_as_the_model_it_served_that_day(when: str, rates: tuple[float, ...]) -> None:
    rate_in, rate_read, rate_out = rates
    for name in ("kimi-for-coding", "kimi-code/kimi-for-coding"):
        got = cost_of(name, when, (10_000, 2_000, 50_000, 0))
        assert got.usd == pytest.approx((10_000 * rate_in + 50_000 * rate_read + 2_000 * rate_out) / M, rel=1e-12)
        assert got.subscription


def test_an_alias_whose_model_has_no_price_is_unknown_never_zero() -> None:
    # From 2026-09-11 kimi-for-coding is K2.8 Preview, which the database does not price.
    got = cost_of("kimi-for-coding", "2026-11-20T09:00:00Z", (10_000, 2_000, 50_000, 0))
    assert got.usd is None
    assert (got.unpriced_calls, got.unpriced_targets) == (1, ("kimi-k2.8-preview",))


def test_an_unknown_model_has_no_cost() -> None:
    got = cost_of("my-private-model", "2026-11-20T09:00:00Z", (10, 10, 0, 0))
    assert (got.usd, got.unpriced_calls, got.unpriced_targets) == (None, 1, ("my-private-model",))


def test_user_prices_win_over_the_database_and_aliases() -> None:
    user = pricing.UserPrices({"kimi-for-coding": "my-deal"}, {"my-deal": (1.0, 2.0, 0.5, 1.0, 0.0),
                                                               "kimi-k2.6": (10.0, 20.0, 10.0, 10.0, 0.0)})
    deal = cost_of("kimi-for-coding", "2026-11-20T09:00:00Z", (M, M, M, 0), user=user)
    assert deal.usd == pytest.approx(1.0 + 2.0 + 0.5)
    assert not deal.subscription  # the user's alias: their own price, not the table's subscription id
    own = cost_of("kimi-k2.6", "2026-11-20T09:00:00Z", (M, 0, 0, 0), user=user)
    assert own.usd == pytest.approx(10.0)


def test_a_mixed_model_sums_its_priced_calls_and_counts_the_rest() -> None:
    schedules = pricing.database_schedules([("kimi-k2.7-code", "moonshot"), ("kimi-k2.8-preview", "moonshot")])
    book = pricing.Book(pricing.UserPrices(), {m: s for (m, _), s in schedules.items()})
    calls = [("kimi-for-coding", at("2026-07-01T00:00:00Z"), M, 0, 0, 0),
             ("kimi-for-coding", at("2026-10-01T00:00:00Z"), M, 0, 0, 0)]
    got = model_costs(calls, book.resolve)["kimi-for-coding"]
    assert (got.usd, got.priced_calls, got.unpriced_calls) == (pytest.approx(0.95), 1, 1)


def test_sums_do_not_depend_on_the_order_of_calls() -> None:
    schedules = pricing.database_schedules([("kimi-k2.6", "moonshot")])
    book = pricing.Book(pricing.UserPrices(), {m: s for (m, _), s in schedules.items()})
    rng = random.Random(7)
    calls = [("kimi-k2.6", at("2026-11-20T09:00:00Z") + i, rng.randrange(9_999), rng.randrange(999),
              rng.randrange(99_999), 0) for i in range(500)]
    forward = model_costs(calls, book.resolve)
    backward = model_costs(list(reversed(calls)), book.resolve)
    assert forward == backward


def test_schedules_agree_with_genai_prices_calculator_for_every_model() -> None:
    """Our per-call arithmetic over the cached schedule gives genai-prices' own `calc_price` figure
    for every model it knows, at random times and counts (dated prices, tiers, time-of-day prices)."""
    rng = random.Random(1)
    checked = 0
    for provider in providers:
        for model in provider.models:
            schedule = pricing._schedule(model)
            for _ in range(3):
                when = datetime.fromtimestamp(at("2025-01-01T00:00:00Z") + rng.randrange(700 * 86_400), UTC)
                inp, out, cr, cw = (rng.choice([0, rng.randrange(1, 400_000)]) for _ in range(4))
                usage = genai_prices.Usage(input_tokens=inp + cr + cw, cache_read_tokens=cr, cache_write_tokens=cw,
                                           output_tokens=out)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        expected = float(model.calc_price(usage, provider, genai_request_timestamp=when).total_price)
                except ValueError:
                    continue  # a model that needs counts we never have (e.g. audio-only)
                ours = call_cost(rates_at(schedule, when.timestamp(), inp + cr + cw), inp, out, cr, cw)
                assert ours == pytest.approx(expected, rel=1e-9, abs=1e-12), (provider.id, model.id, when)
                checked += 1
    assert checked > 1000


def test_a_call_without_a_time_is_priced_at_the_newest_rates() -> None:
    priced = Priced("o3", pricing.database_schedules([("o3", "openai")])[("o3", "openai")], "genai-prices")
    got = model_costs([("o3", None, M, M, 0, 0)], lambda _name, _time: priced)["o3"]
    assert got.usd == pytest.approx(10.0)


# -- settings --------------------------------------------------------------------------------------------

def write_settings(tmp_path: Path, prices: Any) -> Path:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"prices": prices}), encoding="utf-8")
    return path


def test_settings_prices_are_parsed(tmp_path: Path) -> None:
    path = write_settings(tmp_path, {"aliases": {"k": "kimi-k2.6"},
                                     "models": {"mine": {"input": 1, "output": 2.5, "cache_read": 0.1}}})
    prices = load_settings(path, {"kimi_cli": ()}).prices
    assert prices.aliases == {"k": "kimi-k2.6"}
    assert prices.models == {"mine": (1.0, 2.5, 0.1, 1.0, 0.0)}  # no cache write rate: billed as input


@pytest.mark.parametrize(("prices", "where"), [
    ([], "prices: expected an object"),
    ({"alias": {}}, "prices.alias: unknown key; did you mean aliases"),
    ({"aliases": {"k": 3}}, "prices.aliases.k: expected a model name"),
    ({"models": {"m": {"input": 1}}}, "prices.models.m.output: expected a price"),
    ({"models": {"m": {"input": -1, "output": 1}}}, "prices.models.m.input: expected a price"),
    ({"models": {"m": {"input": 1, "output": 1, "cached": 1}}}, "prices.models.m.cached: unknown key"),
    ({"models": {"m": {"input": True, "output": 1}}}, "prices.models.m.input: expected a price"),
])
def test_settings_prices_errors_name_the_key_path(tmp_path: Path, prices: Any, where: str) -> None:
    with pytest.raises(SettingsError, match=where.replace(".", r"\.")):
        load_settings(write_settings(tmp_path, prices), {"kimi_cli": ()})


# -- real files, through the CLI --------------------------------------------------------------------------

def kimi_cli_home(tmp_path: Path, model: str) -> dict[str, str | None]:
    home = KimiHome(tmp_path / "kimi")
    home.config_toml(f'default_model = "m"\n[models.m]\nprovider = "moonshot"\nmodel = "{model}"\n')
    wire = home.session(uid("a"), GROUP)
    wire.usage(at("2026-11-20T09:00:00Z"), (1520, 312, 79_400, 0), "chatcmpl-1")
    wire.usage(at("2026-11-20T09:01:00Z"), (2_000, 100, 80_000, 0), "chatcmpl-2")
    return env_for(tmp_path / "kimi")


K26 = ((1520 + 2_000) * 0.95 + (79_400 + 80_000) * 0.16 + (312 + 100) * 4) / M


def test_kimi_cli_snapshot_costs_agree_with_hand_figures_with_and_without_cache(tmp_path: Path) -> None:
    snap = only_snapshot(kimi_cli_home(tmp_path, "kimi-k2.6"))  # --no-cache, cold and warm all equal
    assert snap["models"][0]["cost_usd"] == pytest.approx(K26, rel=1e-12)
    assert snap["metrics"]["cost_usd"] == {"used": pytest.approx(K26, rel=1e-12), "unit": "USD", "window": "all-time"}
    assert snap["cost"]["basis"] == "list_price"


def test_snapshot_names_the_price_data(tmp_path: Path) -> None:
    doc = run_snapshot(kimi_cli_home(tmp_path, "kimi-k2.6"))
    assert doc["prices"]["source"] == "genai-prices"
    assert doc["prices"]["version"] == genai_prices.__version__


def test_unknown_model_is_null_in_json_and_never_zero_in_the_tile(tmp_path: Path) -> None:
    env = kimi_cli_home(tmp_path, "my-private-model")
    snap = only_snapshot(env)
    assert snap["models"][0]["cost_usd"] is None
    assert snap["metrics"]["cost_usd"]["used"] is None
    assert snap["models"][0]["unpriced_requests"] == 2
    assert snap["diagnostics"]["unpriced_requests"] == {"my-private-model": 2}
    assert snap["cost"]["unpriced_models"] == ["my-private-model"]
    result = invoke(["snapshot"], {**env, "COLUMNS": "100"})
    assert result.exit_code == 0, explain(result)
    assert "$0" not in result.stdout
    assert "no price for my-private-model" in result.stdout


def test_settings_price_and_alias_reach_the_snapshot(tmp_path: Path) -> None:
    env = kimi_cli_home(tmp_path, "my-private-model")
    Path(str(env.get("OPENUSAGE_CONFIG") or "")).parent.mkdir(parents=True, exist_ok=True)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"prices": {"aliases": {"my-private-model": "kimi-k2.6"}}}), encoding="utf-8")
    snap = only_snapshot({**env, "OPENUSAGE_CONFIG": str(settings)})
    assert snap["models"][0]["cost_usd"] == pytest.approx(K26, rel=1e-12)
    settings.write_text(json.dumps({"prices": {"models": {"my-private-model": {"input": 1, "output": 1}}}}),
                        encoding="utf-8")
    snap = only_snapshot({**env, "OPENUSAGE_CONFIG": str(settings)}, fresh_cache=False)
    total = (1520 + 2_000 + 79_400 + 80_000 + 312 + 100) / M  # cache read billed as input without its own rate
    assert snap["models"][0]["cost_usd"] == pytest.approx(total, rel=1e-12)


def test_kimi_code_subscription_calls_are_an_api_equivalent_value(tmp_path: Path) -> None:
    home = KimiCodeHome(tmp_path / "code")
    journal = home.session("wd_x_3f2b8e5a9c1d", sid("a")).main.header()
    # July 2026: kimi-for-coding served kimi-k2.7-code (input 0.95, cache read 0.19, output 4).
    journal.llm_request("kimi-for-coding", "kimi-code/kimi-for-coding", ms("2026-07-01T10:00:00Z"))
    journal.usage(ms("2026-07-01T10:00:01Z"), (3_064, 76, 14_848, 0))
    journal.llm_request("k3", "kimi-code/k3", ms("2026-11-20T10:00:00Z"))
    journal.usage(ms("2026-11-20T10:00:01Z"), (1_000, 2_000, 30_000, 40_000), alias="kimi-code/k3")
    doc = run_snapshot_code(code_env(tmp_path / "code"))
    models = {m["model"]: m["cost_usd"] for m in doc["models"]}
    k27 = (3_064 * 0.95 + 14_848 * 0.19 + 76 * 4) / M
    k3 = (1_000 * 3 + 40_000 * 3 + 30_000 * 0.3 + 2_000 * 15) / M
    assert models == {"kimi-for-coding": pytest.approx(k27, rel=1e-12), "k3": pytest.approx(k3, rel=1e-12)}
    assert doc["cost"]["basis"] == "api_equivalent"
    assert doc["metrics"]["cost_usd"]["used"] == pytest.approx(k27 + k3, rel=1e-12)


def run_snapshot_code(env: dict[str, str | None]) -> dict[str, Any]:
    """The Kimi Code snapshot without the cache, then cold and warm with it: all three equal."""
    docs = []
    for args in (["--no-cache"], [], []):
        result = invoke(["snapshot", "--json", "--account", "kimi_code", *args], env)
        assert result.exit_code == 0, explain(result)
        doc = json.loads(result.stdout)
        docs.append({k: v for k, v in doc.items() if k != "generated_at"})
    assert docs[0] == docs[1] == docs[2]
    snapshots: list[dict[str, Any]] = docs[0]["snapshots"]
    return snapshots[0]


# -- openusage prices ---------------------------------------------------------------------------------------

def test_prices_command_shows_data_aliases_and_missing_prices(tmp_path: Path) -> None:
    env = kimi_cli_home(tmp_path, "kimi-for-coding")
    wire = KimiHome(tmp_path / "kimi").session(uid("b"), GROUP)
    wire.usage(at("2026-11-20T10:00:00Z"), (1, 1, 0, 0), "chatcmpl-3", model="my-private-model")
    result = invoke(["prices", "--json"], env)
    assert result.exit_code == 0, explain(result)
    doc = json.loads(result.stdout)
    assert doc["data"]["version"] == genai_prices.__version__
    models = {m["model"]: m for m in doc["models"]}
    assert models.keys() == {"kimi-for-coding", "my-private-model"}
    steps = models["kimi-for-coding"]["priced_as"]
    assert models["kimi-for-coding"]["alias"] == "table"
    assert [s["model"] for s in steps] == ["kimi-k2.5", "kimi-k2.6", "kimi-k2.7-code", "kimi-k2.8-preview"]
    assert steps[1]["rates"] == {"input": 0.95, "output": 4.0, "cache_read": 0.16, "cache_write": 0.95}
    assert steps[3]["rates"] is None
    assert models["my-private-model"]["priced_as"][0]["origin"] == "none"
    text = invoke(["prices"], {**env, "COLUMNS": "140"})
    assert text.exit_code == 0, explain(text)
    assert "no price for my-private-model: add an alias in settings" in text.stdout
    assert "no price for kimi-k2.8-preview" in text.stdout
    assert genai_prices.__version__ in text.stdout


def test_summing_a_steady_model_in_one_pass_gives_the_per_call_figure() -> None:
    schedules = pricing.database_schedules([("kimi-k2.6", "moonshot"), ("gpt-5.4", "openai")])
    book = pricing.Book(pricing.UserPrices(), {m: s for (m, _), s in schedules.items()})
    rng = random.Random(3)
    by_model = {model: [(at("2026-11-20T09:00:00Z") + i, rng.randrange(300_000), rng.randrange(999),
                         rng.randrange(99_999), 0) for i in range(300)] for model in ("kimi-k2.6", "gpt-5.4")}
    assert grouped_costs(by_model, book.resolve, book.steady) == grouped_costs(by_model, book.resolve)


# -- reports ----------------------------------------------------------------------------------------------

def report_json(env: dict[str, str | None], *args: str) -> dict[str, Any]:
    result = invoke(["report", *args, "--json", "--tz", "UTC"], env)
    assert result.exit_code == 0, explain(result)
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_reports_carry_cost_per_row_per_model_and_in_total(tmp_path: Path) -> None:
    env = kimi_cli_home(tmp_path, "kimi-k2.6")
    daily = report_json(env, "daily", "--breakdown")
    assert daily["prices"]["version"] == genai_prices.__version__
    assert daily["rows"][0]["cost_usd"] == pytest.approx(K26, rel=1e-12)
    assert daily["rows"][0]["breakdown"][0]["cost_usd"] == pytest.approx(K26, rel=1e-12)
    assert daily["totals"]["cost_usd"] == pytest.approx(K26, rel=1e-12)
    assert daily["totals"]["unpriced_calls"] == 0
    assert report_json(env, "daily", "--breakdown", "--no-cache") == daily  # identical without the cache
    model = report_json(env, "model")
    assert [row["cost_usd"] for row in model["rows"]] == [pytest.approx(K26, rel=1e-12)]


def test_report_csv_and_table_show_cost_and_never_zero_for_unknown(tmp_path: Path) -> None:
    env = kimi_cli_home(tmp_path, "my-private-model")
    result = invoke(["report", "daily", "--csv", "--tz", "UTC"], env)
    assert result.exit_code == 0, explain(result)
    lines = result.stdout.splitlines()
    header = lines[0].split(",")
    assert header[header.index("total_tokens") + 1] == "cost_usd"
    row = dict(zip(header, lines[1].split(","), strict=True))
    assert (row["cost_usd"], row["unpriced_calls"]) == ("", "2")
    table = invoke(["report", "daily", "--tz", "UTC"], {**env, "COLUMNS": "120"})
    assert table.exit_code == 0, explain(table)
    assert "Cost" in table.stdout
    assert "$0" not in table.stdout
    assert report_json(env, "daily")["totals"]["cost_usd"] is None


def test_a_reports_rows_add_up_to_its_total_exactly() -> None:
    from openusage.periods import Calendar, day_range
    from openusage.query import CallsQuery, CallsResult, SettledCall
    from openusage.reports import Options, build

    schedules = pricing.database_schedules([("kimi-k2.6", "moonshot"), ("gpt-5.4", "openai")])
    book = pricing.Book(pricing.UserPrices(), {m: s for (m, _), s in schedules.items()})
    pricer = CallPricer(book.resolve, book.steady)
    rng = random.Random(11)
    start = at("2026-11-01T00:00:00Z")
    calls = [SettledCall("a", "a", f"s{i % 7}", start + i * 3_600, rng.choice(["kimi-k2.6", "gpt-5.4"]),
                         rng.randrange(300_000), rng.randrange(9_999), rng.randrange(99_999), 0) for i in range(400)]
    calendar = Calendar(UTC)
    span = day_range(calendar, None, None, datetime(2026, 11, 30).date())
    result = CallsResult(CallsQuery(), calls, {}, ("a",))
    rep = build(result, Options("daily", calendar, "UTC", span, breakdown=True), CallsPricing({"a": pricer}))
    assert sum(row.counts.cost or 0 for row in rep.rows) == rep.totals.counts.cost
    for row in rep.rows:
        assert sum(share.counts.cost or 0 for share in row.breakdown) == row.counts.cost
    by_hand = sum(call_cost(rates_at(book.resolve(c.model, c.time).schedule, c.time,  # type: ignore[arg-type]
                                     c.input + c.cache_read + c.cache_write), c.input, c.output, c.cache_read, 0)
                  for c in calls)
    assert rep.totals.counts.cost_usd == pytest.approx(by_hand, rel=1e-12)


# -- the ledger's per-day sums: the same figure as pricing call by call -------------------------------------

def _rows(model: str, start: str, hours: int, seed: int) -> list[CallRow]:
    rng = random.Random(seed)
    return [CallRow(f"s{i % 3}", at(start) + i * 3_600, model, rng.randrange(9_999), rng.randrange(999),
                    rng.randrange(99_999), 0, 1, None) for i in range(hours)]


def test_day_sums_give_the_per_call_figure_to_the_unit() -> None:
    from openusage.cost import day_costs
    from openusage.summary import Ledger

    rows = _rows("kimi-for-coding", "2026-06-08T00:00:00Z", 24 * 8, 1)
    rows += _rows("kimi-k2.6", "2026-06-01T00:00:00Z", 50, 2)
    schedules = pricing.database_schedules((t, "moonshot") for t in pricing.targets(
        ["kimi-for-coding", "kimi-k2.6"], pricing.UserPrices()))
    book = pricing.Book(pricing.UserPrices(), {m: s for (m, _), s in schedules.items()})
    by_day = {(model, day): sums for (model, day), sums in Ledger.of(rows).model_days.items()}  # type: ignore[arg-type]
    by_model: dict[str, list[Any]] = {}
    for row in rows:
        by_model.setdefault(str(row.model), []).append((row.ts, row.input, row.output, row.cache_read,
                                                        row.cache_write))
    per_call = grouped_costs(by_model, book.resolve, book.steady)
    per_day = day_costs(by_day, book.resolve_day)  # type: ignore[arg-type]
    assert per_day == per_call  # across the alias's move to kimi-k2.7-code on 2026-06-12, at midnight
    assert per_day["kimi-for-coding"].usd != pytest.approx(  # type: ignore[index]
        model_costs([("kimi-for-coding", at("2026-06-01T00:00:00Z"), *sums[:4]) for sums in by_day.values()],
                    book.resolve)["kimi-for-coding"].usd)


def test_a_day_whose_price_changes_inside_it_is_priced_call_by_call() -> None:
    from openusage.cost import day_costs
    from openusage.summary import Ledger

    # kimi-for-coding moved from kimi-k2.5 to kimi-k2.6 at 2026-04-20T15:28:10Z; gpt-5.4 has tiers, and one
    # call of the day has a prompt above its first (272,000 tokens).
    for model, start in (("kimi-for-coding", "2026-04-20T00:00:00Z"), ("gpt-5.4", "2026-04-20T00:00:00Z")):
        rows = _rows(model, start, 24, 3)
        if model == "gpt-5.4":
            rows.append(msgspec.structs.replace(rows[0], cache_read=300_000))
        hint = "openai" if model.startswith("gpt") else "moonshot"
        schedules = pricing.database_schedules((t, hint) for t in pricing.targets([model], pricing.UserPrices()))
        book = pricing.Book(pricing.UserPrices(), {m: s for (m, _), s in schedules.items()})
        assert day_costs(Ledger.of(rows).model_days, book.resolve_day) is None  # type: ignore[arg-type]


def test_calls_without_a_time_are_priced_from_their_sums_unless_tiered() -> None:
    from openusage.cost import day_costs
    from openusage.summary import Ledger

    # Undated calls take the newest rates: kimi-for-coding's latest alias target, gpt-5's flat price;
    # gpt-5.4's newest rates have a tier, which one undated call's prompt crosses: those need pricing one by one.
    for model, hint, tiered in (("kimi-for-coding", "moonshot", False), ("gpt-5", "openai", False),
                                ("gpt-5.4", "openai", True)):
        rows = [msgspec.structs.replace(row, ts=None) for row in _rows(model, "2026-06-08T00:00:00Z", 30, 6)]
        rows += _rows(model, "2026-06-08T00:00:00Z", 5, 7)
        if tiered:
            rows.append(msgspec.structs.replace(rows[0], cache_read=300_000))  # undated, above the 272,000 tier
        schedules = pricing.database_schedules((t, hint) for t in pricing.targets([model], pricing.UserPrices()))
        book = pricing.Book(pricing.UserPrices(), {m: s for (m, _), s in schedules.items()})
        per_day = day_costs(Ledger.of(rows).model_days, book.resolve_day)  # type: ignore[arg-type]
        if tiered:
            assert per_day is None
            continue
        by_model = {model: [(row.ts, row.input, row.output, row.cache_read, row.cache_write) for row in rows]}
        assert per_day == grouped_costs(by_model, book.resolve, book.steady)  # type: ignore[arg-type]
        assert per_day is not None
        assert per_day[model].priced_calls + per_day[model].unpriced_calls == 35


def test_the_ledger_keeps_its_day_sums_exactly_through_removals() -> None:
    from openusage.summary import Ledger

    kept, gone = _rows("m", "2026-06-01T00:00:00Z", 40, 4), _rows("n", "2026-06-01T10:00:00Z", 30, 5)
    ledger = Ledger.of(kept + gone)
    ledger.add(gone, -1)  # type: ignore[arg-type]
    fresh = Ledger.of(kept).model_days  # type: ignore[arg-type]
    assert {key: sums[:6] for key, sums in ledger.model_days.items()} == {key: sums[:6] for key, sums in fresh.items()}
    assert Ledger.decode(ledger.encode()).model_days == ledger.model_days  # type: ignore[union-attr]


def test_the_peak_prompt_is_an_upper_bound_through_removals() -> None:
    from openusage.summary import Ledger

    day = int(at("2026-06-01T00:00:00Z") // 86_400)
    big = CallRow("s", at("2026-06-01T10:00:00Z"), "m", 300_000, 5, 10_000, 2, 1, None)
    small = CallRow("s", at("2026-06-01T11:00:00Z"), "m", 1_000, 5, 2_000, 0, 1, None)
    ledger = Ledger.of([small])
    assert ledger.model_days[("m", day)][6] == 3_000
    ledger.add([big])  # type: ignore[arg-type]
    assert ledger.model_days[("m", day)][6] == 310_002
    ledger.add([big], -1)  # type: ignore[arg-type]
    assert ledger.model_days[("m", day)][6] == 310_002  # kept: a bound, never too small
    ledger.add([small], -1)  # type: ignore[arg-type]
    assert ("m", day) not in ledger.model_days  # the last call gone, so is the bound


def test_a_tiered_model_prices_from_its_day_sums_while_no_prompt_reaches_the_tier() -> None:
    from openusage.cost import day_costs
    from openusage.summary import Ledger

    schedules = pricing.database_schedules((t, "openai") for t in pricing.targets(["gpt-5.4"], pricing.UserPrices()))
    book = pricing.Book(pricing.UserPrices(), {m: s for (m, _), s in schedules.items()})
    rows = [CallRow("s", at("2026-06-01T00:00:00Z") + 60 * n, "gpt-5.4", 1_000 + n, 50, 269_000 - n, 1_000, 1, None)
            for n in range(20)]  # prompts of exactly 271,000 tokens: below the 272,000 tier
    rows.append(msgspec.structs.replace(rows[0], ts=None))

    def per_call(calls: list[CallRow]) -> dict[str, ModelCost]:
        return grouped_costs({"gpt-5.4": [(c.ts, c.input, c.output, c.cache_read, c.cache_write) for c in calls]},
                             book.resolve, book.steady)

    assert day_costs(Ledger.of(rows).model_days, book.resolve_day) == per_call(rows)  # type: ignore[arg-type]
    at_tier = msgspec.structs.replace(rows[1], cache_read=rows[1].cache_read + 1_000)  # 272,000: still base rates
    assert day_costs(Ledger.of([*rows, at_tier]).model_days, book.resolve_day) == per_call([*rows, at_tier])  # type: ignore[arg-type]
    above = msgspec.structs.replace(rows[1], cache_read=rows[1].cache_read + 1_001)  # 272,001: the tier's rates
    assert day_costs(Ledger.of([*rows, above]).model_days, book.resolve_day) is None  # type: ignore[arg-type]
    undated_above = msgspec.structs.replace(above, ts=None)
    assert day_costs(Ledger.of([*rows, undated_above]).model_days, book.resolve_day) is None  # type: ignore[arg-type]


def test_costs_do_not_depend_on_the_zone(tmp_path: Path) -> None:
    snap = only_snapshot(kimi_cli_home(tmp_path, "kimi-k2.6"), "--tz", "Asia/Kolkata")
    assert snap["metrics"]["cost_usd"]["used"] == pytest.approx(K26, rel=1e-12)


def test_a_warm_run_and_a_run_after_appends_do_not_import_the_price_database(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, **{k: v for k, v in kimi_cli_home(tmp_path, "kimi-k2.6").items() if v is not None}}
    env["OPENUSAGE_PRICE_TABLE"] = "0"  # no price table: the rates come from genai-prices (pricetable.py)
    command = [sys.executable, "-X", "importtime", "-m", "openusage", "snapshot", "--json"]

    def imports_prices() -> bool:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        return "genai_prices" in done.stderr

    assert imports_prices()  # the first run reads the model's rates from genai-prices
    assert not imports_prices()  # then they are in the cache
    wire = next((tmp_path / "kimi" / "sessions").rglob("wire.jsonl"))
    with wire.open("a", encoding="utf-8") as f:  # appended, as Kimi CLI does
        f.write(line(at("2026-11-20T10:00:00Z"), status_update((5, 5, 5, 0), mid="chatcmpl-9")) + "\n")
    assert not imports_prices()  # a new call of a model already priced


def test_codex_files_cached_input_is_billed_once_end_to_end(tmp_path: Path) -> None:
    from codex_home import CodexHome, codex_env
    from codex_home import snapshot as codex_snapshot

    home = CodexHome(tmp_path / "codex")
    home.place("plain_two_turns.jsonl")  # (1200 in, 1000 cached, 300 out) and (1800, 1600, 400), gpt-5-codex
    snap = codex_snapshot(codex_env(home.root))  # --no-cache, cold and warm all equal
    # Our record: input 200 + 200, cache read 1000 + 1600, output 700. gpt-5: 1.25 / cached 0.125 / 10.
    expected = (400 * 1.25 + 2_600 * 0.125 + 700 * 10) / M
    assert snap["models"][0]["cost_usd"] == pytest.approx(expected, rel=1e-12)
    assert snap["metrics"]["cost_usd"]["used"] == pytest.approx(expected, rel=1e-12)
    twice = (3_000 * 1.25 + 2_600 * 0.125 + 700 * 10) / M  # cached input billed as input too
    assert snap["metrics"]["cost_usd"]["used"] != pytest.approx(twice)


def test_prices_over_the_demo_homes_reads_them_not_yours(tmp_path: Path) -> None:
    result = invoke(["--demo", "prices", "--json"], {"OPENUSAGE_NOW": "2026-11-20T15:30:00Z"})
    assert result.exit_code == 0, explain(result)
    models = {(m["provider_id"], m["model"]) for m in json.loads(result.stdout)["models"]}
    assert ("kimi_code", "kimi-for-coding") in models


# -- a snapshot without the cache keeps the calls only when pricing needs them ----------------------------

def _kimi_for_coding_across_its_move(tmp_path: Path) -> dict[str, str | None]:
    """kimi-for-coding moved from kimi-k2.5 to kimi-k2.6 at 2026-04-20T15:28:10Z: a call on each side of
    it that day, so the day's sums cannot price it and the calls are read."""
    home = KimiHome(tmp_path / "kimi")
    home.config_toml('default_model = "m"\n[models.m]\nprovider = "moonshot"\nmodel = "kimi-for-coding"\n')
    wire = home.session(uid("a"), GROUP)
    wire.usage(at("2026-04-20T09:00:00Z"), (10_000, 2_000, 50_000, 0), "chatcmpl-1")
    wire.usage(at("2026-04-20T18:00:00Z"), (10_000, 2_000, 50_000, 0), "chatcmpl-2")
    return env_for(tmp_path / "kimi")


K25_K26 = ((10_000 * 0.6 + 50_000 * 0.1 + 2_000 * 3.0) + (10_000 * 0.95 + 50_000 * 0.16 + 2_000 * 4.0)) / M


@pytest.mark.parametrize("scratch", [False, True])
def test_a_day_priced_call_by_call_reads_its_calls_without_the_cache(tmp_path: Path, scratch: bool,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if scratch:  # as a history of very many sessions is read: through a scratch file, no call kept
        monkeypatch.setattr("openusage.scan.SCRATCH_MIN_SESSIONS", 0)
    snap = only_snapshot(_kimi_for_coding_across_its_move(tmp_path))  # --no-cache, cold and warm all equal
    assert snap["models"][0]["cost_usd"] == pytest.approx(K25_K26, rel=1e-12)


def _count_scratch_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times a scan reads through a scratch store (the real one, counted)."""
    from openusage import reading

    real = reading.scratch_store
    opened: list[int] = []

    def counted() -> Any:
        opened.append(1)
        return real()

    monkeypatch.setattr(reading, "scratch_store", counted)
    return opened


def test_a_snapshot_without_the_cache_in_utc_holds_no_call_at_size(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("openusage.scan.SCRATCH_MIN_SESSIONS", 0)
    opened = _count_scratch_reads(monkeypatch)
    env = kimi_cli_home(tmp_path, "kimi-k2.6")
    doc = run_snapshot(env, "--no-cache")
    assert opened == [1]  # read through a scratch file: the calls were not kept in memory
    assert doc["snapshots"][0]["metrics"]["cost_usd"]["used"] == pytest.approx(K26, rel=1e-12)


def test_a_snapshot_without_the_cache_in_another_zone_counts_its_days_from_the_scratch_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The zone's days are counted from the settled calls: at scratch size they are read from the
    scratch file the history was read through (kept until the snapshot is built), not from memory
    nor by reading the files again; the figures are those of a history held in memory."""
    env = kimi_cli_home(tmp_path, "kimi-k2.6")
    held = run_snapshot(env, "--no-cache", "--tz", "Asia/Kolkata")
    monkeypatch.setattr("openusage.scan.SCRATCH_MIN_SESSIONS", 0)
    opened = _count_scratch_reads(monkeypatch)
    reads = _count_full_reads(monkeypatch)
    doc = run_snapshot(env, "--no-cache", "--tz", "Asia/Kolkata")
    assert opened == [1]
    assert len(reads) == 1
    assert doc["snapshots"][0]["metrics"]["cost_usd"]["used"] == pytest.approx(K26, rel=1e-12)
    assert {key: value for key, value in doc.items() if key != "generated_at"} == \
        {key: value for key, value in held.items() if key != "generated_at"}


def _count_full_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times a scan without the cache reads every file (the real reading, counted)."""
    from openusage import reading

    real = reading.read_all
    reads: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(reading, "read_all", counted)
    return reads


@pytest.mark.parametrize("scratch", [False, True])
def test_a_day_priced_call_by_call_reads_the_files_once_at_any_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scratch: bool) -> None:
    """A history read in memory keeps the calls it holds anyway, so pricing that needs them does not
    read every file a second time (it did, and made a Codex cold scan of 1 GB as slow as before the
    fast paths); a history too large to hold settles them from the scratch file it was read through,
    which lives until the snapshot is built (it was read again, keeping every call)."""
    if scratch:
        monkeypatch.setattr("openusage.scan.SCRATCH_MIN_SESSIONS", 0)
    opened = _count_scratch_reads(monkeypatch)
    reads = _count_full_reads(monkeypatch)
    doc = run_snapshot(_kimi_for_coding_across_its_move(tmp_path), "--no-cache")
    assert len(reads) == 1
    assert len(opened) == int(scratch)
    assert doc["snapshots"][0]["metrics"]["cost_usd"]["used"] == pytest.approx(K25_K26, rel=1e-12)


def test_undated_calls_and_a_tiered_model_below_its_tier_price_without_reading_calls() -> None:
    from openusage import priced
    from openusage.summary import Ledger

    rows = [CallRow("s", at("2026-06-01T00:00:00Z") + 60 * n, model, 2_000, 40, 100_000, 0, 1, None)
            for n in range(10) for model in ("gpt-5.4", "gpt-5-codex")]
    rows += [msgspec.structs.replace(row, ts=None) for row in rows[:4]]  # a Codex event without a valid timestamp

    def no_rows() -> dict[str, list[CallRow]]:
        raise AssertionError("the calls were read: the day sums should have been enough")

    member = priced.Member("codex", "openai", str, model_days=Ledger.of(rows).model_days)
    costs = priced.account_costs(None, [member], no_rows, pricing.UserPrices()).by_account["codex"]
    by_hand = {model: sum(call_cost(rates_at(schedule, row.ts, 102_000), 2_000, 40, 100_000, 0)
                          for row in rows if row.model == model)
               for model, schedule in (("gpt-5.4", _schedule("gpt-5.4")), ("gpt-5-codex", _schedule("gpt-5-codex")))}
    assert {model: cost.usd for model, cost in costs.items()} == pytest.approx(by_hand, rel=1e-12)


def _schedule(model: str) -> Any:
    return pricing.database_schedules([(model, "openai")])[(model, "openai")]
