"""Where openusage keeps its own files: settings and cache. Nothing provider-specific lives here.

Environment overrides: `OPENUSAGE_CONFIG` names the settings file, `OPENUSAGE_CACHE_DIR` the cache
directory. Otherwise the platform's config and cache directories (`~/.config/openusage/`,
`~/.cache/openusage/` on Linux).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

APP = "openusage"
CACHE_NAME = "cache.sqlite3"


def settings_path(env: Mapping[str, str]) -> Path:
    override = env.get("OPENUSAGE_CONFIG", "")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP, appauthor=False)) / "settings.json"


def cache_path(env: Mapping[str, str]) -> Path:
    override = env.get("OPENUSAGE_CACHE_DIR", "")
    if override:
        return Path(override).expanduser() / CACHE_NAME
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP, appauthor=False)) / CACHE_NAME
