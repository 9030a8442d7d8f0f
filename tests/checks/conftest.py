"""Shared by the checks tests: a Typer app holding only the checks commands, and a weights mapping of one unit."""

from __future__ import annotations

import pytest
import typer

from trainlab.checks.cli import register


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    """A fresh Typer app with ``gradcheck``, ``gradflow`` and ``lstm-step`` registered (what ``trainlab`` adds)."""
    fresh = typer.Typer()
    register(fresh)
    return fresh


@pytest.fixture
def half() -> dict[str, float]:
    """LSTM weights of one unit: every W and U entry 0.5, every bias 0 (the course's worked example)."""
    return {f"{kind}_{gate}": 0.5 for kind in "WU" for gate in "ifco"} | {f"b_{gate}": 0.0 for gate in "ifco"}
