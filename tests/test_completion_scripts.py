"""Shell Tab completion: `search completion SHELL` printed by the installed
command, loaded into real shells, asked for completions the way the shell asks."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from search.cli import main
from search.env import Env

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def installed_search() -> str:
    exe = shutil.which("search", path=str(BIN))
    assert exe, "the console script `search` is not installed next to the interpreter"
    return exe


def completion_script(shell: str, tmp_path: Path) -> Path:
    """`search completion SHELL`, run as a user would, saved to a file."""
    proc = subprocess.run([installed_search(), "completion", shell], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    path = tmp_path / f"search.{shell}"
    path.write_text(proc.stdout, encoding="utf-8")
    return path


def shell_env(tmp_path: Path) -> dict[str, str]:
    """`search` on PATH first; no user config, no index from the environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("SEARCH_INDEX", "_ARGCOMPLETE")}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", HOME=str(tmp_path / "home"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), TERM="xterm")
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


# What bash does on Tab: it sets COMP_LINE, COMP_POINT, COMP_WORDS and
# COMP_CWORD and calls the function that `complete -p search` names, with the
# command, the word being completed and the word before it; COMPREPLY holds
# the candidates. Arguments: $1 the script, $2 the command line up to the cursor.
BASH_TAB = r"""
source "$1" || exit 3
spec=$(complete -p search) || exit 4
fn=${spec##*-F }; fn=${fn%% *}
COMP_LINE=$2; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9; COMP_KEY=9
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMPREPLY=()
"$fn" search "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""


def bash_tab(script: Path, line: str, env: dict[str, str]) -> list[str]:
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", BASH_TAB, "bash", str(script), line],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [c.rstrip() for c in proc.stdout.splitlines() if c.strip()]


def test_bash_completes_commands_options_and_choices(tmp_path: Path):
    script = completion_script("bash", tmp_path)
    env = shell_env(tmp_path)
    assert bash_tab(script, "search qu", env) == ["query"]
    assert bash_tab(script, "search query --fo", env) == ["--format"]
    assert bash_tab(script, "search query --format ", env) == ["text", "json", "jsonl"]
    assert bash_tab(script, "search query --sort n", env) == ["newest"]
    assert set(bash_tab(script, "search ", env)) >= {"index", "query", "stats", "repl", "completion"}
    assert bash_tab(script, "search completion f", env) == ["fish"]


def test_bash_completes_providers_and_topics_from_the_index(built: Path, tmp_path: Path):
    script = completion_script("bash", tmp_path)
    env = shell_env(tmp_path)
    assert bash_tab(script, f"search query --index {built} --provider Reu", env) == ["Reuters"]
    providers = bash_tab(script, f"search query --index {built} --provider ", env)
    assert providers[0] == "Microsoft" and "BBC" in providers  # most common first
    # a value with a space comes back escaped, as bash inserts it into the line
    assert bash_tab(script, f"search query --index {built} --topic Comp", env) == [r"Computer\ Vision"]
    # the index of the settings when --index is not on the line
    assert bash_tab(script, "search query --topic Rob", {**env, "SEARCH_INDEX": str(built)}) == ["Robotics"]


def test_no_index_completes_no_values_and_prints_nothing(tmp_path: Path):
    script = completion_script("bash", tmp_path)
    env = shell_env(tmp_path)
    assert bash_tab(script, f"search query --index {tmp_path / 'none'} --provider ", env) == []


def tab_in_a_terminal(argv: list[str], setup: str, steps: list[tuple[str, str]], tmp_path: Path) -> None:
    """An interactive shell on a pseudo-terminal: run `setup`, then type each
    step's keys and wait for its pattern on the screen, after the previous one."""
    from test_repl_pty import Terminal

    term = Terminal(argv, shell_env(tmp_path), tmp_path)
    try:
        term.send(f"PS1='$ '; {setup}; echo READY$((6*7))\r")
        pos = term.expect(r"READY42").end()  # the output, not the echo of the typed line
        time.sleep(0.3)  # until the prompt is drawn and the line editor reads keys
        for keys, pattern in steps:
            term.send(keys)
            pos = term.expect(pattern, since=pos).start()
        term.send("\x15exit\r")
        assert term.wait() == 0
    finally:
        term.close()


def test_bash_tab_in_a_real_terminal(tmp_path: Path):
    script = completion_script("bash", tmp_path)
    # after each Tab the line reads `search query ` / `search query --format ` (with the space)
    tab_in_a_terminal(["/bin/bash", "--norc", "--noprofile", "-i"], f"source {script}",
                      [("search qu\t", r"search query $"), ("--fo\t", r"search query --format $")],
                      tmp_path)


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh is not installed (apt-get install zsh)")
def test_zsh_tab_in_a_real_terminal(tmp_path: Path):
    script = completion_script("zsh", tmp_path)
    # zsh redraws the line with cursor moves, so look for the completed words only
    tab_in_a_terminal([str(shutil.which("zsh")), "-f", "-i"],
                      f"autoload -Uz compinit && compinit -u && source {script}",
                      [("search qu\t", r"query"), ("--fo\t", r"--format")], tmp_path)


@pytest.mark.skipif(not shutil.which("fish"), reason="fish is not installed (apt-get install fish)")
def test_fish_completes_commands_and_options(tmp_path: Path):
    script = completion_script("fish", tmp_path)
    program = (f"source {script}; complete -C'search qu'; echo ---; complete -C'search query --fo'; "
               "echo ---; complete -C'search query --sort n'")
    proc = subprocess.run(["fish", "--no-config", "-c", program], capture_output=True, text=True,
                          env=shell_env(tmp_path), timeout=60)
    assert proc.returncode == 0, proc.stderr
    first, second, third = (part.strip().splitlines() for part in proc.stdout.split("---"))
    assert [line.split("\t")[0] for line in first] == ["query"]
    assert "\t" in first[0]  # with the sub-command's help as its description
    assert [line.split("\t")[0] for line in second] == ["--format"]
    assert [line.split("\t")[0] for line in third] == ["newest"]


def test_completion_rejects_other_shells():
    err = io.StringIO()
    env = Env(stdin=io.StringIO(), stdout=io.StringIO(), stderr=err, environ={"HOME": "/nonexistent"})
    assert main(["completion", "powershell"], env) == 2
    assert "invalid choice: 'powershell'" in err.getvalue() and err.getvalue().count("\n") == 1
