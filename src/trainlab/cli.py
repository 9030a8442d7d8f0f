"""The ``trainlab`` command. Thin: parse, call one function, print. A user mistake prints one line and exits 2.

This is the entry point only: the shared consoles and :func:`~trainlab.console.user_errors` live in the leaf module
:mod:`trainlab.console`, which the sub-command modules (``trainlab.calc.cli``, ``trainlab.checks.cli``) import
directly; nothing else imports this module.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from trainlab.console import console, echo, error_console, print_error, user_errors

__all__ = ["app", "console", "error_console", "main", "user_errors"]

app = typer.Typer(
    help="trainlab: classic deep-learning experiments end to end, from a YAML recipe to an HTML + Markdown report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
DEFAULT_RECIPE = "digits-demo"
INTERRUPTED = 130  # the shell's status for a command stopped by Ctrl-C (128 + SIGINT)


@app.command()
@user_errors
def run(
    recipe: Annotated[str, typer.Argument(help="packaged recipe name (see `trainlab recipes`) or a .yaml path")] = (
        DEFAULT_RECIPE
    ),
    data: Annotated[Path | None, typer.Option(help="image folder, .zip or .tar.gz of class folders")] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="override any recipe key, e.g. --set training.epochs=20")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="parent folder of runs (default: the recipe's output.dir)")] = None,
    resume: Annotated[
        Path | None, typer.Option(help="continue an interrupted run folder; finished variants are kept")
    ] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="print the plan (variants, data, parameters, estimated time from a few timed steps) and "
                          "stop; no run folder is made")] = False,
) -> None:
    """Run every variant of a recipe's study and write runs/<study>/<timestamp>/report.html and report.md."""
    from trainlab.config import load_recipe
    from trainlab.errors import StudyInterrupted
    from trainlab.train.study import run_study

    # Paths are set as strings, not parsed as YAML like --set values (a path may hold '#', ': ' or look like a number).
    pairs = _parse_options(overrides or [])
    if data is not None:
        pairs.update({"data.path": str(data), "data.source": "image_folder"})
    if out is not None:
        pairs["output.dir"] = str(out)
    loaded = load_recipe(recipe, pairs)
    if dry_run:
        from trainlab.train.study import plan_study

        for line in plan_study(loaded, resume=resume, notify=echo).lines():
            echo(line)
        echo(f"dry run: nothing trained, no run folder made (decoded data may stay cached in "
             f"{loaded.output.cache_dir}, for the run to reuse)")
        return
    try:
        run_study(loaded, resume=resume, notify=echo)
    except StudyInterrupted as stopped:
        again = resume_command(recipe, data, overrides or [], out, Path(str(stopped.run_dir)))
        print_error(f"{stopped}; continue with: {again}", label="interrupted")
        raise typer.Exit(code=INTERRUPTED) from None
    except KeyboardInterrupt:
        print_error("before the run folder was made; nothing was written", label="interrupted")
        raise typer.Exit(code=INTERRUPTED) from None


def resume_command(recipe: str, data: Path | None, overrides: list[str], out: Path | None, run_dir: Path) -> str:
    """The ``trainlab run`` command line that continues ``run_dir``: the same recipe, data and --set values (a resume
    checks that they are the same), quoted for a POSIX shell."""
    words = ["trainlab", "run", recipe]
    if data is not None:
        words += ["--data", str(data)]
    for item in overrides:
        words += ["--set", item]
    if out is not None:
        words += ["--out", str(out)]
    return shlex.join([*words, "--resume", str(run_dir)])


@app.command()
@user_errors
def recipes(show: Annotated[str | None, typer.Option(help="print one recipe with every key resolved")] = None) -> None:
    """List the packaged recipes, or print one in full."""
    from trainlab.config import load_recipe, recipe_names

    if show is not None:
        echo(load_recipe(show).to_yaml())
        return
    table = Table()
    for column in ("recipe", "model"):
        table.add_column(column, no_wrap=True)
    table.add_column("data")
    table.add_column("study")
    table.add_column("description", ratio=1)
    for name in recipe_names():
        loaded = load_recipe(name)
        data = f"{loaded.data.source} {loaded.data.channels}x{loaded.data.image_size}x{loaded.data.image_size}"
        study = f"{loaded.study.mode}: {', '.join(loaded.study.techniques) or '-'}"
        table.add_row(name, loaded.model.name, data, study, loaded.description)
    console.print(table)


def _parse_options(items: list[str], option: str = "--set", example: str = "training.epochs=20") -> dict[str, Any]:
    """``KEY=VALUE`` items as a dict; an item without ``=`` is an error that names ``option``."""
    from trainlab.config import parse_override

    return dict(parse_override(item, option, example) for item in items)


@app.command()
@user_errors
def summary(
    model: Annotated[str, typer.Argument(help="registered model name, e.g. vgg13 or resnet18")],
    in_channels: Annotated[int, typer.Option(help="input channels")] = 3,
    image_size: Annotated[int, typer.Option(help="input height = width")] = 64,
    num_classes: Annotated[int, typer.Option(help="output classes")] = 3,
    width: Annotated[float, typer.Option(help="channel width multiplier")] = 1.0,
    dropout: Annotated[float, typer.Option(help="dropout rate")] = 0.0,
    option: Annotated[list[str] | None, typer.Option(help="model option KEY=VALUE, e.g. batch_norm=true")] = None,
) -> None:
    """Print a model's layer table (output shapes, parameters) and its memory sizes, as torchsummary does."""
    from trainlab.models import build_model, check_model_memory
    from trainlab.report.summary import model_summary

    sizes: dict[str, Any] = {"in_channels": in_channels, "num_classes": num_classes, "image_size": image_size,
                             "dropout": dropout, "width": width,
                             "options": _parse_options(option or [], "--option", "batch_norm=true")}
    check_model_memory(model, **sizes)  # on the meta device: a model too big for this machine fails here, in a line
    built = build_model(model, **sizes)
    echo(model_summary(built, (1, in_channels, image_size, image_size)))


@app.command()
@user_errors
def report(run_dir: Annotated[Path, typer.Argument(help="a run folder written by `trainlab run`")]) -> None:
    """Re-render report.html and report.md from the files of a run folder."""
    from trainlab.report import render

    html, markdown = render(run_dir)
    echo(f"{html}\n{markdown}")


@app.command()
@user_errors
def compare(
    run_a: Annotated[Path, typer.Argument(help="first run folder")],
    run_b: Annotated[Path, typer.Argument(help="second run folder")],
) -> None:
    """Compare the test metrics of two runs, variant by variant (Markdown table)."""
    from trainlab.report import compare as compare_runs

    echo(compare_runs(run_a, run_b))


@app.command()
@user_errors
def cache(
    folder: Annotated[Path | None, typer.Option(
        "--dir", help="the cache folder: a recipe's output.cache_dir (default .cache/trainlab)")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="remove everything in it (runs rebuild what they need)")] = (
        False
    ),
) -> None:
    """List what trainlab keeps in its cache folder (extracted archives, decoded images), or remove it with --clear."""
    from trainlab.config import OutputConfig
    from trainlab.data.cache import clear_cache, describe_cache, format_entries, total_size

    folder = folder if folder is not None else OutputConfig().cache_dir
    if clear:
        removed = clear_cache(folder)
        echo(f"removed {len(removed)} entr{'y' if len(removed) == 1 else 'ies'} from {folder}, "
             f"{total_size(removed) / 1e6:,.1f} MB freed")
        return
    entries = describe_cache(folder)
    echo(format_entries(entries) if entries else f"{folder}: nothing cached")


def _register_labs() -> None:
    """The labs beyond training: from-scratch nets (gradcheck, gradflow, lstm-step) and calculators (calc)."""
    from trainlab.calc.cli import calc_app
    from trainlab.checks.cli import register

    register(app)
    app.add_typer(calc_app, name="calc", help="layer output shapes and parameter counts (PyTorch and Keras)")


_register_labs()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
