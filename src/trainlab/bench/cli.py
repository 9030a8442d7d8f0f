"""The ``trainlab bench`` command, added to a Typer app by :func:`register`.

Light at import (``trainlab.cli`` imports it for every command): torch, Lightning and the bench itself load inside the
command. Progress goes to stderr, one line per measurement, so ``--json`` leaves stdout one JSON object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from trainlab.console import console, echo, user_errors

if TYPE_CHECKING:
    from trainlab.bench.run import BenchResult


def register(app: typer.Typer) -> None:
    """Add ``bench`` to ``app``."""
    app.command()(bench)


@user_errors
def bench(
    model: Annotated[str, typer.Option(help="a registered image model, e.g. vgg13 or resnet18")] = "vgg13",
    data: Annotated[Path | None, typer.Option(help="an image folder, .zip or .tar.gz of class folders (default: the "
                                                   "packaged digits, so it runs anywhere)")] = None,
    width: Annotated[float | None, typer.Option(help="channel width multiplier (default: 0.125 on the CPU, the "
                                                     "recipe's 1.0 on CUDA)")] = None,
    image_size: Annotated[int | None, typer.Option(help="input height = width (default: 32 on the CPU, the recipe's "
                                                        "64 on CUDA)")] = None,
    batch_size: Annotated[int | None, typer.Option(help="samples per step (default: the recipe's, 64)")] = None,
    steps: Annotated[int, typer.Option(help="timed steps per measurement, after as many warm-up steps")] = 20,
    pairs: Annotated[int, typer.Option(help="rounds measuring each way once, in ABBA order (the ratios are medians "
                                            "over rounds)")] = 3,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="override a key of the vgg13-ablation recipe, e.g. --set training.optimizer=sgd")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object instead of the table")] = False,
) -> None:
    """Train one image model three ways in this process (course-style loop, plain optimized PyTorch loop, trainlab's
    trainer) on the same data and report samples/s, their ratios, peak memory and the device."""
    from trainlab.bench.run import BenchOptions, run_bench
    from trainlab.config import parse_override

    pairs_set = dict(parse_override(item) for item in overrides or [])
    options = BenchOptions(model=model, data=data, width=width, image_size=image_size, batch_size=batch_size,
                           steps=steps, pairs=pairs, overrides=pairs_set)
    result = run_bench(options, notify=lambda line: typer.echo(line, err=True))
    if as_json:
        echo(json.dumps(result.to_dict()))
        return
    console.print(results_table(result))
    for line in summary_lines(result):
        echo(line)


def _rounds(count: int) -> str:
    return f"{count} round" + ("" if count == 1 else "s")


def _memory(value: int | None) -> str:
    return "-" if value is None else f"{value / (1 << 20):,.0f} MiB"


def results_table(result: BenchResult) -> Table:
    """One row per way: samples/s (median of rounds), × the course-style loop, × the plain loop, peak memory."""
    from trainlab.bench.ways import WAYS

    table = Table(title=f"{result.setup.recipe.model.name} on {result.data}: training samples/s")
    table.add_column("way", no_wrap=True)
    for column in ("samples/s", "× course-style", "× plain", "peak memory"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, way in WAYS.items():
        versus_course = "1.00" if name == "course" else f"{result.ratio(name, 'course'):.2f}"
        versus_plain = "1.00" if name == "plain" else f"{result.ratio(name, 'plain'):.2f}"
        table.add_row(way.label, f"{result.samples_per_s(name):,.1f}", versus_course, versus_plain,
                      _memory(result.peaks[name]))
    return table


def summary_lines(result: BenchResult) -> list[str]:
    """The device and setting, the medians of the per-round ratios, and what the memory column means."""
    setup, runtime = result.setup, result.setup.runtime
    channels, height, width = setup.bundle.image_shape
    memory = (f"peak memory: {result.memory_measure}" if setup.device.type == "cuda" else
              f"peak memory: {_memory(result.process_max_rss)}, {result.memory_measure}")
    return [
        f"device: {runtime.device_name}, precision {runtime.precision}, channels-last "
        f"{'on' if runtime.channels_last else 'off'}, torch.compile {'on' if runtime.compile else 'off'}",
        f"model: {setup.recipe.model.name}, width {setup.recipe.model.width:g}, {result.params:,} parameters; "
        f"{channels}×{height}×{width} images, batch {setup.batch_size}; {setup.steps} timed steps after "
        f"{setup.steps} warm-up steps per measurement, {_rounds(result.options.pairs)}",
        f"medians of per-round ratios: trainer/plain {result.ratio('trainer', 'plain'):.2f}, plain/course "
        f"{result.ratio('plain', 'course'):.2f}, trainer/course {result.ratio('trainer', 'course'):.2f}",
        memory,
    ]
