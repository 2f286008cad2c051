"""The config file, read on every supported Python (tomllib from 3.11, tomli on 3.10)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from search.cli import main
from search.config import read_config_file, resolve_settings
from search.env import Env
from search.errors import UsageError


def write_config(tmp_path: Path, text: str) -> dict[str, str]:
    """An environment whose config file ($XDG_CONFIG_HOME/search/config.toml) holds `text`."""
    folder = tmp_path / "xdg-config" / "search"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(text, encoding="utf-8")
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg-config")}


def test_config_file_sets_index_and_color(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # `~` is the process's home
    env = write_config(tmp_path, '# mine\nindex = "~/news/index"\ncolor = "never"\n')
    settings = resolve_settings(env)
    assert settings.index_dir == tmp_path / "home" / "news" / "index"
    assert settings.color == "never"


def test_flag_and_environment_beat_the_config_file(tmp_path: Path):
    env = write_config(tmp_path, 'index = "/from/file"\ncolor = "never"\n')
    assert resolve_settings({**env, "SEARCH_INDEX": "/from/env"}).index_dir == Path("/from/env")
    settings = resolve_settings({**env, "SEARCH_INDEX": "/from/env"}, "/from/flag", "always")
    assert settings.index_dir == Path("/from/flag") and settings.color == "always"


def test_toml_types_and_tables_are_parsed(tmp_path: Path):
    env = write_config(tmp_path, 'index = "x"\n[later]\nlimit = 20\nnames = ["a", "b"]\n')
    path = Path(env["XDG_CONFIG_HOME"]) / "search" / "config.toml"
    assert read_config_file(path) == {"index": "x", "later": {"limit": 20, "names": ["a", "b"]}}


def test_a_broken_config_file_is_one_error_naming_it(tmp_path: Path):
    env = write_config(tmp_path, 'index = "unterminated\n')
    with pytest.raises(UsageError, match=r"config\.toml: invalid config file"):
        resolve_settings(env)
    err = io.StringIO()
    code = main(["stats"], Env(stdin=io.StringIO(), stdout=io.StringIO(), stderr=err, environ=env))
    assert code == 2
    assert err.getvalue().startswith("search: ") and "config.toml: invalid config file" in err.getvalue()
    assert err.getvalue().count("\n") == 1


def test_a_command_finds_its_index_through_the_config_file(built: Path, tmp_path: Path):
    env = write_config(tmp_path, f"index = {str(built)!r}\n")
    out = io.StringIO()
    code = main(["query", "robots", "--format", "jsonl"],
                Env(stdin=io.StringIO(), stdout=out, stderr=io.StringIO(), environ=env))
    assert code == 0 and '"Robots learn to walk in a day"' in out.getvalue()


def test_the_toml_reader_matches_the_python():
    from search.config import toml_module

    assert toml_module().__name__ == ("tomllib" if sys.version_info >= (3, 11) else "tomli")
