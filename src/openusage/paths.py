"""Where openusage keeps its own files: settings and cache. Nothing provider-specific lives here.

Environment overrides: `OPENUSAGE_CONFIG` names the settings file, `OPENUSAGE_CACHE_DIR` the cache
directory. Otherwise the platform's config and cache directories (`~/.config/openusage/`,
`~/.cache/openusage/` on Linux).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

APP = "openusage"
CACHE_NAME = "cache.sqlite3"
CONFIG_VARIABLE = "OPENUSAGE_CONFIG"


def settings_named(env: Mapping[str, str]) -> str | None:
    """The variable that names the settings file, when it is set (not empty); None for the default."""
    return CONFIG_VARIABLE if env.get(CONFIG_VARIABLE, "") else None


def settings_path(env: Mapping[str, str]) -> Path:
    override = env.get(CONFIG_VARIABLE, "")
    if override:
        return Path(override).expanduser()
    return _user_dir("config", env) / "settings.json"


def cache_path(env: Mapping[str, str]) -> Path:
    override = env.get("OPENUSAGE_CACHE_DIR", "")
    if override:
        return Path(override).expanduser() / CACHE_NAME
    return _user_dir("cache", env) / CACHE_NAME


def _user_dir(kind: str, env: Mapping[str, str]) -> Path:
    """The platform's per-user config or cache directory for openusage. On Linux that is the XDG rule
    (`$XDG_CONFIG_HOME` / `$XDG_CACHE_HOME` when set, else `~/.config` / `~/.cache`), computed here
    because importing platformdirs costs more than the whole warm run's SQL; elsewhere platformdirs
    knows the conventions."""
    if sys.platform.startswith("linux"):
        variable, default = ("XDG_CONFIG_HOME", ".config") if kind == "config" else ("XDG_CACHE_HOME", ".cache")
        base = env.get(variable, "").strip()
        home = env.get("HOME") or str(Path.home())
        # "All paths set in these environment variables must be absolute": a relative one is ignored.
        return Path(base if base and os.path.isabs(base) else Path(home) / default) / APP
    import platformdirs

    found = platformdirs.user_config_dir(APP, appauthor=False) if kind == "config" else \
        platformdirs.user_cache_dir(APP, appauthor=False)
    return Path(found)
