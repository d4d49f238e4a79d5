"""The model a Codex CLI usage record used when its rollout names none: `model` in config.toml.

Only the top-level `model` key is read: nothing else from the file is returned, printed, logged or
cached. Without it the model is `unknown`: a guess (ccusage prices such rows as gpt-5) would hide
that the rollout did not say.
"""

from __future__ import annotations

from pathlib import Path

from openusage.providers.agentfiles import read_model_keys
from openusage.providers.base import ModelResolver, config_problem

FALLBACK_MODEL = "unknown"


def model_resolver(config_path: Path) -> ModelResolver:
    """A record's own model, else config.toml's `model`, else `unknown`; a config.toml that exists but
    cannot be used reads as empty, and is named."""
    doc, problem = read_model_keys(config_path)
    model = doc.get("model")
    default = model if isinstance(model, str) and model else FALLBACK_MODEL
    problems = (config_problem(config_path, problem),) if problem is not None else ()
    return ModelResolver(lambda recorded: recorded or default, problems)
