"""Which model a Kimi Code usage record used, when its journal does not say.

Only `default_model` and `models."<alias>".model` are read from config.toml: provider tables hold
credentials, and nothing else from the file is returned, printed, logged or cached.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from openusage.providers.agentfiles import read_model_keys
from openusage.providers.base import ModelResolver, config_problem

FALLBACK_MODEL = "kimi-for-coding"
MANAGED_PREFIX = "kimi-code/"
UNRESOLVED = "\x00"  # a record's model that is an alias still to resolve here, not a model name


def model_resolver(config_path: Path) -> ModelResolver:
    """What a record says of its model → the model's name. A name the journal resolved (from the
    llm.request before the call) is kept; an alias goes through `[models."<alias>"].model`, then the
    alias without `kimi-code/` (unless empty or `__name__`), then `default_model` the same way, then
    `kimi-for-coding`. A config.toml that exists but cannot be used reads as empty, and is named."""
    doc, problem = read_model_keys(config_path)
    problems = (config_problem(config_path, problem),) if problem is not None else ()
    return ModelResolver(_resolver(doc), problems)


def _resolver(doc: dict[str, Any]) -> Callable[[str | None], str]:
    models = doc.get("models")
    aliases: dict[str, str] = {}
    if isinstance(models, dict):
        for alias, entry in models.items():
            model = entry.get("model") if isinstance(entry, dict) else None
            if isinstance(model, str) and model:
                aliases[alias] = model
    default_alias = doc.get("default_model")
    default = _resolve(default_alias, aliases) if isinstance(default_alias, str) else None
    fallback = default or FALLBACK_MODEL

    def resolve(recorded: str | None) -> str:
        if recorded is None:
            return fallback
        if not recorded.startswith(UNRESOLVED):
            return recorded
        return _resolve(recorded[1:], aliases) or fallback

    return resolve


def _resolve(alias: str, aliases: dict[str, str]) -> str | None:
    if alias in aliases:  # the empty alias too: `[models.""]` is a table TOML can name
        return aliases[alias]
    if not alias:
        return None
    stripped = alias.removeprefix(MANAGED_PREFIX)
    if not stripped or (stripped.startswith("__") and stripped.endswith("__")):
        return None  # e.g. __kimi_env_model__: the model came from environment variables, in no file
    return stripped
