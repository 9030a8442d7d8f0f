"""The ``gradcheck``, ``gradflow`` and ``lstm-step`` commands, added to a Typer app by :func:`register`.

The commands are plain functions wrapped in :func:`trainlab.console.user_errors` (a leaf module, so no import cycle
with ``trainlab.cli``). The heavy modules (torch, matplotlib) are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from trainlab.console import echo, user_errors
from trainlab.validate import parse_numbers


def register(app: typer.Typer) -> None:
    """Add ``gradcheck``, ``gradflow`` and ``lstm-step`` to ``app``."""
    app.command()(gradcheck)
    app.command()(gradflow)
    app.command("lstm-step")(lstm_step)


@user_errors
def gradcheck(
    cell: Annotated[str, typer.Argument(help="rnn or lstm")],
    hidden: Annotated[int, typer.Option(help="hidden units")] = 8,
    input_size: Annotated[int, typer.Option("--input", help="input features per step")] = 4,
    steps: Annotated[int, typer.Option(help="sequence length T")] = 6,
    activation: Annotated[str, typer.Option(help="rnn only: tanh or sigmoid")] = "tanh",
    loss: Annotated[str, typer.Option(help="MSE over all steps or the last one: all or last")] = "all",
    seed: Annotated[int, typer.Option(help="seed of the random weights, inputs and targets")] = 0,
) -> None:
    """Check the NumPy BPTT gradients against finite differences and torch autograd, tensor by tensor."""
    from trainlab.checks.gradcheck import render_table, run_gradcheck

    rows = run_gradcheck(cell, hidden, input_size, steps, activation, loss, seed)
    title = f"Gradient check: {cell}" + (f" ({activation})" if cell == "rnn" else "")
    title += f", hidden={hidden}, input={input_size}, steps={steps}, loss={loss}, seed={seed}"
    console = Console()
    console.print(render_table(rows, title=title))
    failed = [row.name for row in rows if not row.passed]
    if failed:
        console.print(f"FAILED: {', '.join(failed)}", highlight=False, markup=False)
        raise typer.Exit(code=1)
    console.print(f"all {len(rows)} tensors pass", highlight=False)


@user_errors
def gradflow(
    cell: Annotated[str, typer.Option(help="rnn or lstm")] = "rnn",
    activation: Annotated[str, typer.Option(help="rnn only: tanh or sigmoid")] = "sigmoid",
    weights: Annotated[
        str | None, typer.Option(help="rnn: recurrent weight scales w, comma list (default 1,2,4,6 sigmoid; "
                                      "0.5,1,1.5 tanh)")
    ] = None,
    forget_bias: Annotated[str, typer.Option(help="lstm: forget-gate biases, comma list")] = "0,1",
    steps: Annotated[int, typer.Option(help="largest number of steps T")] = 50,
    hidden: Annotated[int, typer.Option(help="hidden units")] = 8,
    seed: Annotated[int, typer.Option(help="seed of the orthogonal matrix Q")] = 0,
    out: Annotated[Path, typer.Option(help="folder for gradflow.png and gradflow.md")] = Path("runs/gradflow"),
) -> None:
    """Plot ‖∂L/∂h_0‖ (RNN) or ‖∂L/∂c_0‖ (LSTM) against T and compare the per-step factor with theory."""
    from rich.table import Table

    from trainlab.checks.gradflow import run_gradflow, write_gradflow_report
    from trainlab.io import check_writable_dir

    check_writable_dir(out, "--out")  # before the computing, not after it
    result = run_gradflow(
        cell, activation, None if weights is None else parse_numbers(weights, "--weights", "1,2,4,6"),
        parse_numbers(forget_bias, "--forget-bias", "0,1"), steps=steps, hidden=hidden, seed=seed,
    )
    paths = write_gradflow_report(result, out)
    table = Table(title=f"Gradient flow over T = 1 … {steps}")
    for column in ("setting", "quantity", "measured factor", "theory", "verdict"):
        table.add_column(column, no_wrap=True)
    for s in result.settings:
        table.add_row(s.label, s.quantity, f"{s.measured_factor:.6f}", f"{s.theoretical_factor:.6f}", s.verdict)
    Console().print(table)
    echo("\n".join(str(path) for path in paths))


@user_errors
def lstm_step(
    x: Annotated[str, typer.Option(help='inputs: 1,0.5 = two scalar steps; "1 2;0.5 0" = two steps of 2-vectors')],
    weights: Annotated[Path, typer.Option(help="YAML file with W_i.., U_i.., b_i.. (g may be written c)")],
    h0: Annotated[str, typer.Option(help="initial hidden state: one number for every unit, or hidden numbers")] = (
        "0"
    ),
    c0: Annotated[str, typer.Option(help="initial cell state: one number for every unit, or hidden numbers")] = (
        "0"
    ),
    target: Annotated[str | None, typer.Option(help="targets per step, in the --x format")] = None,
) -> None:
    """Print every gate of every LSTM step (pre-activation and value), c_t, h_t, and the MSE loss."""
    from trainlab.checks.lstm_step import (
        load_lstm_weights,
        parse_state,
        parse_steps,
        render_lstm_steps,
        run_lstm_steps,
    )

    params = load_lstm_weights(weights)
    xs = parse_steps(x, "--x")
    targets = None if target is None else parse_steps(target, "--target")
    result = run_lstm_steps(params, xs, parse_state(h0, "--h0", params.hidden),
                            parse_state(c0, "--c0", params.hidden), targets)
    Console().print(render_lstm_steps(result), highlight=False)
