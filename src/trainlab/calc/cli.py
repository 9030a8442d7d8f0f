"""``trainlab calc``: the course calculators on the command line, one Rich table per command.

``trainlab.cli`` mounts it with ``app.add_typer(calc_app, name="calc")``. Volumes are written W×H×C and printed with
``×`` (``28×24×10``); counts with thousands separators (``34,591,299``). A user mistake prints one line and exits 2
through :func:`trainlab.console.user_errors`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from trainlab.calc.keras import format_shape, keras_summary
from trainlab.calc.params import KINDS, compare_params
from trainlab.calc.shapes import (
    AXES,
    as_pair,
    conv2d_output,
    conv2d_params,
    conv_params_formula,
    conv_size_formula,
    conv_transpose2d_output,
    conv_transpose2d_params,
    conv_transpose_size_formula,
    parse_pair,
    parse_volume,
    pool2d_output,
)
from trainlab.console import user_errors

calc_app = typer.Typer(
    help="Course calculators: conv/pool output sizes, parameter counts (PyTorch and Keras), Keras summaries, and a "
    "recipe's layer table checked against the built model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
InputOpt = Annotated[str, typer.Option("--input", help="input volume WxHxC (width x height x channels), e.g. 32x28x3")]
KernelOpt = Annotated[str, typer.Option(help="kernel size: K, or H,W")]
StrideOpt = Annotated[str, typer.Option(help="stride: S, or H,W")]
PaddingOpt = Annotated[str, typer.Option(help="zero padding on each side: P, or H,W")]
DilationOpt = Annotated[str, typer.Option(help="dilation: D, or H,W")]
NUMERIC = {"value", "trainable", "non-trainable", "total", "params"}


def _print(*renderables: Any) -> None:
    """Print at the terminal's width, or 160 columns when piped (so that no number is cut)."""
    console = Console(highlight=False, markup=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=160, highlight=False, markup=False)
    for renderable in renderables:
        console.print(renderable)


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, no_wrap=index < len(columns) - 1, justify="right" if column in NUMERIC else "left")
    return table


def _option(text: str, option: str, minimum: int) -> tuple[int, int]:
    """A ``--kernel``-like option ``"5"`` or ``"3,5"`` as an ``(h, w)`` pair of ints ``>= minimum``."""
    return as_pair(f"--{option}", parse_pair(text, f"--{option}"), minimum)


def _pair_text(value: tuple[int, int]) -> str:
    return str(value[0]) if value[0] == value[1] else f"{value[0]},{value[1]}"


def _axes(volume: Any, formula: Callable[[int, int], str], out: Any) -> list[tuple[str, str, str]]:
    """Rows ``output width`` then ``output height``: (label, value, formula)."""
    sizes = {"height": (volume.height, out.height), "width": (volume.width, out.width)}
    return [(f"output {axis}", str(sizes[axis][1]), formula(sizes[axis][0], AXES.index(axis)))
            for axis in ("width", "height")]


@calc_app.command()
@user_errors
def conv(input_: InputOpt, filters: Annotated[int, typer.Option(help="number of filters (output channels)")],
         kernel: KernelOpt, stride: StrideOpt = "1", padding: PaddingOpt = "0", dilation: DilationOpt = "1",
         bias: Annotated[bool, typer.Option(help="count a bias per filter")] = True) -> None:
    """Output volume and parameters of nn.Conv2d: ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1 per axis; F·(k·k·C) + F."""
    volume = parse_volume(input_)
    kp, sp = _option(kernel, "kernel", 1), _option(stride, "stride", 1)
    pp, dp = _option(padding, "padding", 0), _option(dilation, "dilation", 1)
    out = conv2d_output(volume, filters, kp, sp, pp, dp)
    table = _table(f"Conv2d: {filters} filters {kp[0]}×{kp[1]}, stride {_pair_text(sp)}, padding {_pair_text(pp)}"
                   + (f", dilation {_pair_text(dp)}" if dp != (1, 1) else ""), "", "value", "formula")
    table.add_row("input", str(volume), "W×H×C")
    for row in _axes(volume, lambda n, i: conv_size_formula(n, kp[i], sp[i], pp[i], dp[i]), out):
        table.add_row(*row)
    table.add_row("output", str(out), "W×H×filters")
    params = conv2d_params(volume.channels, filters, kp, bias)
    formula = conv_params_formula(volume.channels, filters, kp, bias) + " = F·(kh·kw·C)" + (" + F" if bias else "")
    table.add_row("parameters", f"{params:,}", formula)
    _print(table)


@calc_app.command()
@user_errors
def pool(input_: InputOpt, kernel: KernelOpt,
         stride: Annotated[str | None, typer.Option(help="stride: S, or H,W (default: the kernel)")] = None,
         padding: PaddingOpt = "0", dilation: DilationOpt = "1",
         kind: Annotated[str, typer.Option(help="max (MaxPool2d) or avg (AvgPool2d)")] = "max",
         ceil_mode: Annotated[bool, typer.Option(help="round up, as ceil_mode=True")] = False) -> None:
    """Output volume of nn.MaxPool2d / nn.AvgPool2d (channels kept, no parameters)."""
    volume = parse_volume(input_)
    kp = _option(kernel, "kernel", 1)
    sp = kp if stride is None else _option(stride, "stride", 1)
    pp, dp = _option(padding, "padding", 0), _option(dilation, "dilation", 1)
    out = pool2d_output(volume, kp, sp, pp, dp, ceil_mode, kind)  # type: ignore[arg-type]

    def formula(n: int, i: int) -> str:
        text = conv_size_formula(n, kp[i], sp[i], pp[i], dp[i])
        return text.replace("⌊", "⌈").replace("⌋", "⌉") if ceil_mode else text

    name = "MaxPool2d" if kind == "max" else "AvgPool2d"
    table = _table(f"{name}: kernel {kp[0]}×{kp[1]}, stride {_pair_text(sp)}, padding {_pair_text(pp)}",
                   "", "value", "formula")
    table.add_row("input", str(volume), "W×H×C")
    for row in _axes(volume, formula, out):
        table.add_row(*row)
    table.add_row("output", str(out), "W×H×C (channels kept)")
    table.add_row("parameters", "0", "pooling has no weights")
    _print(table)


@calc_app.command()
@user_errors
def convtranspose(input_: InputOpt, filters: Annotated[int, typer.Option(help="number of filters (output channels)")],
                  kernel: KernelOpt, stride: StrideOpt = "1", padding: PaddingOpt = "0",
                  output_padding: Annotated[str, typer.Option(help="extra size on one side: P, or H,W")] = "0",
                  dilation: DilationOpt = "1",
                  bias: Annotated[bool, typer.Option(help="count a bias per filter")] = True) -> None:
    """Output volume and parameters of nn.ConvTranspose2d: (n − 1)·s − 2p + d·(k − 1) + output_padding + 1."""
    volume = parse_volume(input_)
    kp, sp = _option(kernel, "kernel", 1), _option(stride, "stride", 1)
    pp, dp = _option(padding, "padding", 0), _option(dilation, "dilation", 1)
    opp = _option(output_padding, "output-padding", 0)
    out = conv_transpose2d_output(volume, filters, kp, sp, pp, opp, dp)
    table = _table(f"ConvTranspose2d: {filters} filters {kp[0]}×{kp[1]}, stride {_pair_text(sp)}, "
                   f"padding {_pair_text(pp)}", "", "value", "formula")
    table.add_row("input", str(volume), "W×H×C")
    for row in _axes(volume, lambda n, i: conv_transpose_size_formula(n, kp[i], sp[i], pp[i], opp[i], dp[i]), out):
        table.add_row(*row)
    table.add_row("output", str(out), "W×H×filters")
    params = conv_transpose2d_params(volume.channels, filters, kp, bias)
    formula = f"{volume.channels}·({kp[0]}·{kp[1]}·{filters})" + (f" + {filters}" if bias else "")
    table.add_row("parameters", f"{params:,}", formula + " = C·(kh·kw·F)" + (" + F" if bias else ""))
    _print(table)


@calc_app.command()
@user_errors
def params(
    kind: Annotated[str, typer.Argument(help=f"layer kind: {'|'.join(KINDS)}")],
    input_: Annotated[int | None, typer.Option("--input", help="inputs (linear, rnn/lstm/gru)")] = None,
    hidden: Annotated[int | None, typer.Option(help="hidden units (rnn/lstm/gru)")] = None,
    units: Annotated[int | None, typer.Option("--units", "--output", help="output units (linear)")] = None,
    channels: Annotated[int | None, typer.Option(help="input channels (conv2d) or features (batchnorm)")] = None,
    filters: Annotated[int | None, typer.Option(help="filters (conv2d)")] = None,
    kernel: Annotated[str | None, typer.Option(help="kernel K or H,W (conv2d)")] = None,
    vocab: Annotated[int | None, typer.Option(help="vocabulary size, input_dim (embedding)")] = None,
    dim: Annotated[int | None, typer.Option(help="embedding size, output_dim (embedding)")] = None,
    bias: Annotated[bool, typer.Option(help="count biases (linear, conv2d, rnn/lstm/gru)")] = True,
    reset_after: Annotated[bool, typer.Option(help="Keras GRU reset_after (the Keras 2/3 default)")] = True,
) -> None:
    """Parameters of one layer in both conventions, PyTorch and Keras, with the formulas."""
    counts = compare_params(
        kind, input=input_, hidden=hidden, units=units, channels=channels, filters=filters,
        kernel=None if kernel is None else parse_pair(kernel, "--kernel"), vocab=vocab, dim=dim, bias=bias,
        reset_after=reset_after,
    )
    table = _table(f"{kind} parameters", "convention", "trainable", "non-trainable", "total", "formula")
    for convention, label in (("pytorch", "PyTorch"), ("keras", "Keras")):
        count = counts[convention]  # type: ignore[index]
        table.add_row(label, f"{count.trainable:,}", f"{count.non_trainable:,}", f"{count.total:,}", count.formula)
    notes = []
    difference = counts["pytorch"].total - counts["keras"].total
    if kind in ("rnn", "lstm", "gru") and difference:
        gates = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
        notes.append(f"Keras = PyTorch − {gates}·{hidden} = {counts['keras'].total:,}: PyTorch has two bias vectors "
                     "per gate set (b_ih and b_hh), Keras one.")
    elif kind == "gru" and bias:
        notes.append("Keras GRU with reset_after=True (the default) has two bias vectors per gate set, as PyTorch.")
    if kind == "batchnorm":
        notes.append("PyTorch keeps the running mean and variance as buffers, not parameters; Keras counts them as "
                     "non-trainable parameters.")
    _print(table, *notes)


@calc_app.command()
@user_errors
def keras(description: Annotated[str, typer.Argument(
        help="layers separated by ';', e.g. \"Embedding(1000,16,input_length=200); LSTM(32); Dense(1)\"")]) -> None:
    """Output shapes and Keras parameter counts of a Sequential model, as model.summary() prints them."""
    summary = keras_summary(description)
    table = _table("Keras Sequential", "#", "layer", "output shape", "params", "formula")
    for layer in summary.layers:
        table.add_row(str(layer.position), layer.name, format_shape(layer.output_shape), f"{layer.params.total:,}",
                      layer.params.formula)
    _print(table, f"Total params: {summary.total:,}", f"Trainable params: {summary.trainable:,}",
           f"Non-trainable params: {summary.non_trainable:,}")


@calc_app.command()
@user_errors
def model(
    recipe: Annotated[str, typer.Argument(help="packaged recipe name (see `trainlab recipes`) or a .yaml path")],
    num_classes: Annotated[int | None, typer.Option(
        help="output classes (the data is not loaded); default 10 for digits recipes, 3 for image folders")] = None,
) -> None:
    """A recipe's model layer by layer, every output shape and count computed by the formulas and checked."""
    from trainlab.calc.model_table import format_shape as volume_text
    from trainlab.calc.model_table import model_table

    rows, total = model_table(recipe, num_classes)
    table = _table(f"{recipe}: every layer checked against the built model", "#", "layer", "type", "input",
                   "output", "params", "formula")
    for index, row in enumerate(rows, 1):
        table.add_row(str(index), row.name, row.kind, volume_text(row.input_shape), volume_text(row.output_shape),
                      f"{row.params:,}", row.formula)
    _print(table, f"Total params: {total:,} (equals the built model's count)")
