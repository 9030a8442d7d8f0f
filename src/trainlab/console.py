"""The consoles and the one-line error handler that every trainlab command shares.

A leaf module: it imports nothing of trainlab but :mod:`trainlab.errors`, so ``trainlab.cli``, ``trainlab.calc.cli``
and ``trainlab.checks.cli`` all import it directly, with no cycle between them.

Two ways to print:

* Rich (:data:`console`) for tables, which may wrap at the terminal width;
* :func:`echo` for text that is meant to be saved as a file (YAML, Markdown, paths, progress lines): written as is, so
  ``trainlab recipes --show NAME > r.yaml`` reads back exactly. Rich would wrap it at 80 columns when stdout is not a
  terminal, replace ``:emoji:`` codes and expand tabs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from trainlab.errors import TrainlabError

__all__ = ["console", "echo", "error_console", "user_errors"]

F = TypeVar("F", bound=Callable[..., Any])
console = Console()
error_console = Console(stderr=True)


def echo(text: str) -> None:
    """Write ``text`` to stdout unchanged (no wrapping, markup, emoji codes or highlighting), ending with a newline."""
    typer.echo(text, nl=not text.endswith("\n"))


def print_error(message: str, label: str = "error") -> None:
    """``<label>: <message>`` on stderr, one line however long (line breaks become spaces), never read as Rich
    markup."""
    line = " ".join(message.splitlines())
    error_console.print(Text.assemble((f"{label}: ", "bold red"), line), highlight=False, soft_wrap=True)


def user_errors(command: F) -> F:
    """Turn a TrainlabError into one line on stderr and exit status 2, without a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except TrainlabError as error:
            # The message is plain text (paths and values may hold [brackets]): never read it as Rich markup.
            print_error(str(error))
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]
