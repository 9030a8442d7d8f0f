"""The README's command blocks, as a newcomer types them: every command and option exists, and the commands that
need no data or run folder succeed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from trainlab.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
# Commands that need the user's data, a run folder or a file the README only names; they are checked for their
# options alone.
PLACEHOLDERS = ("...", "path/to", "RUN_A", "runs/vgg13-ablation/", "weights.yaml", "my-study.yaml", "cnn_dataset")
LONG = ("run", "pretrain", "style")  # training runs and style transfer are tested elsewhere (tests/train, tests/style)


def readme_commands() -> list[str]:
    """Each ``trainlab ...`` line of a ```bash block, without its comment and output redirection."""
    commands, in_block = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_block = line.strip() == "```bash"
            continue
        if in_block and line.startswith("trainlab "):
            command = re.split(r"\s{2,}#\s", line)[0].split(" > ")[0].strip()
            commands.append(command)
    return commands


def _resolve(words: list[str]) -> tuple[object, list[str]]:
    """The command ``words`` names (``calc conv`` is a sub-command), and the words after it."""
    command: object = typer.main.get_command(app)
    rest = words
    while isinstance(command, TyperGroup) and rest and rest[0] in command.commands:
        command, rest = command.commands[rest[0]], rest[1:]
    return command, rest


COMMANDS = readme_commands()


def test_the_readme_shows_the_commands() -> None:
    assert len(COMMANDS) >= 25
    assert {"trainlab cache", "trainlab cache --clear", "trainlab recipes"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_readme_command_and_option_exists(command: str) -> None:
    words = shlex.split(command)[1:]
    resolved, rest = _resolve(words)
    assert not isinstance(resolved, TyperGroup), f"{command!r} names no command"
    known = {opt for param in resolved.params for opt in param.opts}  # type: ignore[attr-defined]
    for word in rest:
        if word.startswith("--"):
            assert word.split("=")[0] in known, f"{command!r}: {word} is not an option of that command"


RUNNABLE = [command for command in COMMANDS
            if not any(mark in command for mark in PLACEHOLDERS) and shlex.split(command)[1] not in LONG
            and "--clear" not in command]


@pytest.mark.parametrize("command", RUNNABLE)
def test_readme_commands_that_need_no_data_succeed(command: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # gradflow writes runs/gradflow, cache reads .cache/trainlab: here, not in the repo
    result = CliRunner().invoke(app, shlex.split(command)[1:])
    assert result.exit_code == 0, f"{command}\n{result.output}"
    assert result.output.strip()
