"""Snapshots and detections as the stable JSON documents scripts read (`openusage.snapshot/2`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from openusage.api import DetectReport, PricesReport
from openusage.render import jsontext
from openusage.snapshot import ModelRow, Snapshot, SnapshotSet

if TYPE_CHECKING:
    from openusage.remote import Reading

# /2: `models[].total_tokens` is input + output, as `metrics.total_tokens` is; the sum of all four
# counts, which /1 called `models[].total_tokens`, is `models[].all_tokens`.
SNAPSHOT_SCHEMA = "openusage.snapshot/2"
DETECT_SCHEMA = "openusage.detect/1"
PRICES_SCHEMA = "openusage.prices/1"


def snapshot_document(snapshot_set: SnapshotSet) -> dict[str, Any]:
    return {
        "schema": SNAPSHOT_SCHEMA,
        "generated_at": snapshot_set.generated_at_iso,
        "tz": snapshot_set.tz_name,
        "prices": _price_data(snapshot_set),
        "snapshots": [_snapshot(s) for s in snapshot_set.snapshots],
    }


def _price_data(snapshot_set: SnapshotSet) -> dict[str, Any]:
    """The price data every cost was computed with (the first priced snapshot's: one run, one data)."""
    data = next((s.cost.data for s in snapshot_set.snapshots if s.cost is not None and s.cost.data is not None),
                None)
    return {"source": "genai-prices", "version": data.version if data else None, "date": data.date if data else None}


def _metrics(snapshot: Snapshot) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        name: {"used": m.used, "unit": m.unit, "window": m.window} for name, m in snapshot.metrics.items()
    }
    if snapshot.cost is not None:
        metrics["cost_usd"] = {"used": snapshot.cost.usd, "unit": "USD", "window": "all-time"}
    return metrics


def _cost(snapshot: Snapshot) -> dict[str, Any] | None:
    cost = snapshot.cost
    if cost is None:
        return None
    return {
        "usd": cost.usd,
        # A subscription's calls are worth what the same tokens cost at list prices: not money spent.
        "basis": "api_equivalent" if cost.subscription else "list_price",
        "unpriced_requests": cost.unpriced_requests,
        "unpriced_models": list(cost.unpriced_models),
    }


def _snapshot(snapshot: Snapshot) -> dict[str, Any]:
    document = _local(snapshot)
    if snapshot.remote is not None:
        document["remote"] = _remote(snapshot.remote)
    return document


def _remote(reading: Reading) -> dict[str, Any]:
    """A remote source's figures: amounts with their currency or unit, quotas with used / limit /
    percent / reset time, plain caps, and when they were fetched (`stale`: an earlier answer)."""
    return {
        "state": reading.state,
        "stale": reading.stale,
        "fetched_at": _instant(reading.fetched_at),
        "source": reading.source,
        "amounts": [{"key": a.key, "label": a.label, "value": _num(a.value), "unit": a.unit, "section": a.section}
                    for a in reading.amounts],
        "quotas": [{"key": q.key, "label": q.label, "used": _num(q.used), "limit": _num(q.limit), "unit": q.unit,
                    "ratio": q.ratio, "percent": q.percent, "resets_at": _instant(q.resets_at),
                    "reset_text": q.reset_text, "section": q.section} for q in reading.quotas],
        "caps": [{"key": c.key, "label": c.label, "value": c.value, "section": c.section} for c in reading.caps],
        "notes": list(reading.notes),
    }


def _num(value: float) -> int | float:
    """A whole number as an integer (40, not 40.0); any other as it is."""
    return int(value) if value.is_integer() else value


def _instant(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    except OverflowError:  # no UTC instant (9999-12-31T23:59-05:00, cached before it was refused): as given
        return moment.isoformat(timespec="seconds")


def _local(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "account_id": snapshot.account_id,
        "provider_id": snapshot.provider_id,
        "status": snapshot.status,
        "message": snapshot.message,
        "metrics": _metrics(snapshot),
        "cost": _cost(snapshot),
        "models": [_model(row) for row in snapshot.models],
        "daily_series": {
            name: [{"date": point.date, "value": point.value} for point in points]
            for name, points in snapshot.daily_series.items()
        },
        "diagnostics": snapshot.diagnostics,
        "notices": list(snapshot.notices),
    }


def detect_document(report: DetectReport) -> dict[str, Any]:
    return {
        "schema": DETECT_SCHEMA,
        "settings_file": str(report.settings.path),
        "settings_file_exists": report.settings.path.is_file(),
        "settings_error": report.settings_error,  # null, or why the file was not used
        "auto_detect": report.settings.auto_detect,
        # the candidate reader's block loop: compiled (openusage._hot) or pure Python, and why
        "reader": None if report.reader is None else {"compiled": report.reader.compiled, "why": report.reader.why},
        # the warm run's check of what the last comparison stat'ed: compiled (openusage._manifest) or not
        "warm_check": None if report.warm_check is None else {"compiled": report.warm_check.compiled,
                                                              "why": report.warm_check.why},
        "providers": [
            {
                "provider_id": d.provider,
                "title": d.title,
                "detected": d.account is not None,
                "facts": [{"what": f.what, "value": f.value, "found": f.found} for f in d.facts],
            }
            for d in report.detections
        ],
        "accounts": [
            {"id": a.id, "provider_id": a.provider, "origin": a.origin, "extra": dict(a.extra)}
            for a in report.accounts
        ],
    }


def prices_document(report: PricesReport) -> dict[str, Any]:
    data = report.data
    return {
        "schema": PRICES_SCHEMA,
        "data": {"source": "genai-prices", "version": data.version if data else None,
                 "date": data.date if data else None},
        "unit": "USD per million tokens",
        "models": [
            {
                "model": model.model,
                "provider_id": model.provider,
                "calls": model.calls,
                "alias": model.alias or None,
                "priced_as": [
                    {"since": step.since, "model": step.target, "origin": step.origin,
                     "rates": None if step.rates is None else dict(zip(
                         ("input", "output", "cache_read", "cache_write"), step.rates, strict=True)),
                     "tiered": step.tiered, "dated": step.dated}
                    for step in model.steps
                ],
            }
            for model in report.models
        ],
    }


def dumps(document: dict[str, Any]) -> str:
    return jsontext.dumps(document) + "\n"


def _model(row: ModelRow) -> dict[str, Any]:
    model: dict[str, Any] = {
        "model": row.model,
        "upstream_provider": row.upstream_provider,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cache_read_tokens": row.cache_read_tokens,
        "cache_write_tokens": row.cache_write_tokens,
        "total_tokens": row.total_tokens,
        "all_tokens": row.all_tokens,
        "requests": row.requests,
        "cost_usd": row.cost_usd,
        "unpriced_requests": row.unpriced_requests,
    }
    if row.reasoning_output_tokens is not None:  # only where the provider separates it (a part of output)
        model["reasoning_output_tokens"] = row.reasoning_output_tokens
    return model
