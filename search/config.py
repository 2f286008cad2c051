"""Settings resolution: command-line flag > environment > config file > default.

Nothing here runs at import time; callers pass an environment mapping so tests
can fake it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

#: the default index folder: `index/` beside the project, or in the current folder
DEFAULT_INDEX_DIRNAME = "index"
ENV_INDEX = "SEARCH_INDEX"
CONFIG_FILENAME = "config.toml"


@dataclass(frozen=True)
class Settings:
    """Resolved settings shared by the CLI and the REPL."""

    index_dir: Path
    color: str = "auto"  # auto | always | never
    history_file: Path | None = None
    #: saved searches (REPL `:save`, `search query --saved`)
    saved_file: Path | None = None


def xdg_dir(env: Mapping[str, str], var: str, fallback: str) -> Path:
    """An XDG base folder (`XDG_CONFIG_HOME`, `XDG_STATE_HOME`...) for this app."""
    base = env.get(var) or str(Path(env.get("HOME", "~")).expanduser() / fallback)
    return Path(base) / "search"


def config_path(env: Mapping[str, str]) -> Path:
    return xdg_dir(env, "XDG_CONFIG_HOME", ".config") / CONFIG_FILENAME


def history_path(env: Mapping[str, str]) -> Path:
    return xdg_dir(env, "XDG_STATE_HOME", ".local/state") / "history"


def saved_path(env: Mapping[str, str]) -> Path:
    return xdg_dir(env, "XDG_DATA_HOME", ".local/share") / "saved.toml"


def read_config_file(path: Path) -> dict[str, object]:
    """Read the optional TOML config file; a missing or broken file is ignored
    with no effect (a broken one raises UsageError naming it)."""
    from .errors import UsageError

    try:
        data = path.read_bytes()
    except OSError:
        return {}
    toml = toml_module()
    try:
        parsed = toml.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, toml.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: invalid config file: {exc}") from None
    return parsed


def toml_module() -> ModuleType:
    """The TOML reader: the standard library's from Python 3.11, its `tomli`
    original (a dependency on 3.10 only) before."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli

    return tomli


def resolve_settings(
    env: Mapping[str, str],
    index_flag: str | None = None,
    color_flag: str | None = None,
) -> Settings:
    """Resolve settings in the order flag > environment > config file > default."""
    cfg = read_config_file(config_path(env))
    if index_flag:
        index_dir = Path(index_flag)
    elif env.get(ENV_INDEX):
        index_dir = Path(env[ENV_INDEX])
    elif isinstance(cfg.get("index"), str):
        index_dir = Path(str(cfg["index"])).expanduser()
    else:
        index_dir = Path(DEFAULT_INDEX_DIRNAME)
    color = color_flag or (str(cfg["color"]) if isinstance(cfg.get("color"), str) else "auto")
    return Settings(index_dir=index_dir, color=color, history_file=history_path(env),
                    saved_file=saved_path(env))
