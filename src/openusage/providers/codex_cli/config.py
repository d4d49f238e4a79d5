"""The model a Codex CLI usage record used when its rollout names none: `model` in config.toml.

Only the top-level `model` key is read: nothing else from the file is returned, printed, logged or
cached. Without it the model is `unknown`: a guess (ccusage prices such rows as gpt-5) would hide
that the rollout did not say.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from openusage.providers.agentfiles import load_document

FALLBACK_MODEL = "unknown"


def model_resolver(config_path: Path) -> Callable[[str | None], str]:
    model = load_document(config_path).get("model")
    default = model if isinstance(model, str) and model else FALLBACK_MODEL
    return lambda recorded: recorded or default
