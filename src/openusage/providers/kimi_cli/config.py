"""The model Kimi CLI calls when a record names none: the user's configured default.

Only `model`, `default_model` and `models.<alias>.model` are read. Provider sections hold API keys:
nothing else from these files is returned, printed, logged or cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openusage.providers.agentfiles import read_model_keys
from openusage.providers.base import config_problem

FALLBACK_MODEL = "kimi-for-coding"


def default_model(config_paths: list[Path]) -> tuple[str, tuple[str, ...]]:
    """The fallback chain: legacy JSON `model`, then `default_model` through `[models.<alias>].model`
    (TOML first, it is the current format; then the same keys in JSON), then `kimi-for-coding`. With
    it, one line per config file that exists but could not be used (read as empty)."""
    documents: list[tuple[Path, dict[str, Any]]] = []
    problems: list[str] = []
    for path in config_paths:
        doc, problem = read_model_keys(path)
        documents.append((path, doc))
        if problem is not None:
            problems.append(config_problem(path, problem))
    return _default_model(documents), tuple(problems)


def _default_model(documents: list[tuple[Path, dict[str, Any]]]) -> str:
    for path, doc in documents:
        if path.suffix != ".toml":
            model = doc.get("model")
            if isinstance(model, str) and model:
                return model
    ordered = sorted(documents, key=lambda item: item[0].suffix != ".toml")
    for _path, doc in ordered:
        resolved = _resolve_alias(doc)
        if resolved:
            return resolved
    return FALLBACK_MODEL


def _resolve_alias(doc: dict[str, Any]) -> str | None:
    alias = doc.get("default_model")
    models = doc.get("models")
    if not isinstance(alias, str) or not alias or not isinstance(models, dict):
        return None
    entry = models.get(alias)
    if not isinstance(entry, dict):
        return None
    model = entry.get("model")
    return model if isinstance(model, str) and model else None
