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


DATA_HELP = ("the data: an image folder, .zip or .tar.gz of class folders, or a CSV for the text recipes "
             "(e.g. Tweets.csv)")


@app.command()
@user_errors
def run(
    recipe: Annotated[str, typer.Argument(help="packaged recipe name (see `trainlab recipes`) or a .yaml path")] = (
        DEFAULT_RECIPE
    ),
    data: Annotated[Path | None, typer.Option(help=DATA_HELP)] = None,
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
    _run_recipe(recipe, data, overrides or [], out, resume, dry_run)


def _run_recipe(recipe: str, data: Path | None, overrides: list[str], out: Path | None, resume: Path | None,
                dry_run: bool) -> Path | None:
    """``trainlab run``'s work: the run folder, or None for a dry run."""
    from trainlab.config import load_recipe
    from trainlab.errors import StudyInterrupted
    from trainlab.train.study import run_study

    # Paths are set as strings, not parsed as YAML like --set values (a path may hold '#', ': ' or look like a number).
    pairs = _parse_options(overrides)
    if out is not None:
        pairs["output.dir"] = str(out)
    loaded = load_recipe(recipe, pairs)
    if data is not None:
        from trainlab.data import data_path_overrides

        loaded = load_recipe(recipe, {**pairs, **data_path_overrides(loaded.data.source, data)})
    if dry_run:
        from trainlab.train.study import plan_study

        for line in plan_study(loaded, resume=resume, notify=echo).lines():
            echo(line)
        echo(f"dry run: nothing trained, no run folder made (decoded data may stay cached in "
             f"{loaded.output.cache_dir}, for the run to reuse)")
        return None
    try:
        return run_study(loaded, resume=resume, notify=echo)
    except StudyInterrupted as stopped:
        again = resume_command(recipe, data, overrides, out, Path(str(stopped.run_dir)))
        print_error(f"{stopped}; continue with: {again}", label="interrupted")
        raise typer.Exit(code=INTERRUPTED) from None
    except KeyboardInterrupt:
        print_error("before the run folder was made; nothing was written", label="interrupted")
        raise typer.Exit(code=INTERRUPTED) from None


@app.command()
@user_errors
def pretrain(
    model: Annotated[str, typer.Argument(help="an image model, e.g. resnet18 or vgg13")],
    data: Annotated[Path, typer.Option(help="an image folder, .zip or .tar.gz of class folders (e.g. the course's "
                                            "cnn_dataset.tar.gz)")],
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="override any key of the pretrain recipe, e.g. "
                                                     "--set training.epochs=20")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="parent folder of runs (default: runs)")] = None,
    resume: Annotated[Path | None, typer.Option(help="continue an interrupted pretraining run folder")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan and stop")] = False,
) -> None:
    """Train MODEL on an image folder as an offline source of pretrained weights (the `pretrain` recipe), and print
    the option that starts the transfer recipe from them."""
    from trainlab.errors import TrainlabError
    from trainlab.models import INPUT_NAMES, model_input, model_names

    if model in model_names() and model_input(model) != "image":
        raise TrainlabError(f"trainlab pretrain trains image models; {model!r} reads {INPUT_NAMES[model_input(model)]}"
                            f". Image models: {', '.join(model_names('image'))}")
    run_dir = _run_recipe("pretrain", data, [f"model.name={model}", *(overrides or [])], out, resume, dry_run)
    if run_dir is not None:
        weights = shlex.quote(str(run_dir / "base"))
        echo(f"pretrained weights: {run_dir / 'base'}\nuse them with: trainlab run transfer --data FOLDER "
             f"--set model.options.weights={weights}")


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
        data = _data_text(loaded)
        study = f"{loaded.study.mode}: {', '.join(loaded.study.techniques) or '-'}"
        table.add_row(name, loaded.model.name, data, study, loaded.description)
    console.print(table)


def _data_text(recipe: Any) -> str:
    """A recipe's data in a few words: the source and the image shape, or the source and "texts" or "weekly
    series"."""
    from trainlab.data import DATASETS

    data = recipe.data
    kind = DATASETS.metadata(data.source).get("input") if data.source in DATASETS else None
    if kind == "tokens":
        return f"{data.source} texts"
    if kind == "window":
        return f"{data.source} weekly series"
    return f"{data.source} {data.channels}x{data.image_size}x{data.image_size}"


def _parse_options(items: list[str], option: str = "--set", example: str = "training.epochs=20") -> dict[str, Any]:
    """``KEY=VALUE`` items as a dict; an item without ``=`` is an error that names ``option``."""
    from trainlab.config import parse_override

    return dict(parse_override(item, option, example) for item in items)


# The summary options that describe one input kind's data, and the kinds each applies to: given for a model of another
# kind (--vocab-size for a CNN), they would be silently ignored, so they are refused instead.
SUMMARY_INPUT_OPTIONS = {
    "in_channels": ("image",), "image_size": ("image",), "num_classes": ("image", "tokens"),
    "vocab_size": ("tokens",), "seq_len": ("tokens",),
    "features": ("window",), "window": ("window",), "horizon": ("window",), "future": ("window",),
}


def _check_summary_options(context: typer.Context, model: str) -> None:
    """Fail in one line on a data option given on the command line that the model's input kind does not read."""
    from trainlab.errors import TrainlabError
    from trainlab.models import INPUT_NAMES, model_input

    kind = model_input(model)
    for name, kinds in SUMMARY_INPUT_OPTIONS.items():
        source = context.get_parameter_source(name)
        if kind not in kinds and source is not None and source.name == "COMMANDLINE":
            own = ", ".join("--" + option.replace("_", "-") for option, kinds_of in SUMMARY_INPUT_OPTIONS.items()
                            if kind in kinds_of)
            raise TrainlabError(f"--{name.replace('_', '-')} does not apply to model {model!r}, which reads "
                                f"{INPUT_NAMES[kind]}; its data options: {own}")


@app.command()
@user_errors
def summary(
    context: typer.Context,
    model: Annotated[str, typer.Argument(help="registered model name, e.g. vgg13 or resnet18")],
    in_channels: Annotated[int, typer.Option(help="input channels")] = 3,
    image_size: Annotated[int, typer.Option(help="input height = width")] = 64,
    num_classes: Annotated[int, typer.Option(help="output classes (image and text models)")] = 3,
    width: Annotated[float, typer.Option(help="channel width multiplier")] = 1.0,
    dropout: Annotated[float, typer.Option(help="dropout rate")] = 0.0,
    option: Annotated[list[str] | None, typer.Option(help="model option KEY=VALUE, e.g. batch_norm=true")] = None,
    vocab_size: Annotated[int, typer.Option(help="vocabulary size (text models)")] = 20_000,
    seq_len: Annotated[int, typer.Option(help="tokens per text in the example batch (text models)")] = 32,
    features: Annotated[int, typer.Option(help="values per past step (forecasting models)")] = 17,
    window: Annotated[int, typer.Option(help="past steps in the example batch (forecasting models)")] = 8,
    horizon: Annotated[int, typer.Option(help="steps predicted at once (forecasting models)")] = 1,
    future: Annotated[int, typer.Option(help="known-future covariates per predicted step (forecasting models)")] = 0,
) -> None:
    """Print a model's layer table (output shapes, parameters) and its memory sizes, as torchsummary does."""
    from trainlab.models import build_model, check_model_memory, model_input
    from trainlab.report.summary import model_summary
    from trainlab.validate import check_int

    _check_summary_options(context, model)
    options = _parse_options(option or [], "--option", "batch_norm=true")
    common: dict[str, Any] = {"num_classes": num_classes, "dropout": dropout, "width": width, "options": options}
    if model_input(model) == "tokens":
        import torch

        check_int("--seq-len", seq_len, 1, 100_000)
        built = build_model(model, vocab_size=vocab_size, **common)
        example = (torch.ones(1, seq_len, dtype=torch.long), torch.tensor([seq_len]))
        echo(model_summary(built, None, input_data=example))
        return
    if model_input(model) == "window":
        import torch

        check_int("--window", window, 1, 100_000)
        common["num_classes"] = 0  # a regression: --num-classes was refused above, the builder ignores it
        built = build_model(model, n_features=features, horizon=horizon, n_future=future, **common)
        example = (torch.zeros(1, window, features), torch.zeros(1, horizon, future))
        echo(model_summary(built, None, input_data=example))
        return
    sizes: dict[str, Any] = {"in_channels": in_channels, "image_size": image_size, **common}
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


PREDICT_TEXT_WIDTH = 60  # characters of each text shown in the table (--format json gives them whole)


@app.command()
@user_errors
def predict(
    variant_dir: Annotated[Path, typer.Argument(
        help="a variant folder of a text run (runs/<study>/<stamp>/base or .../base/seed-N), or a run folder of one "
             "variant and seed")],
    texts: Annotated[list[str] | None, typer.Argument(help="texts to classify, each one argument")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="a UTF-8 file of texts, one per line (blank lines "
                                                             "skipped); read after the arguments")] = None,
    output_format: Annotated[str, typer.Option(
        "--format", help="table (Rich) or json (an array of {text, label, probabilities})")] = "table",
) -> None:
    """Label new texts with a trained variant: the predicted class and every class probability, per text."""
    import json

    from trainlab.errors import TrainlabError
    from trainlab.predict import gather_texts, load_predictor, resolve_variant_dir

    if output_format not in ("table", "json"):
        raise TrainlabError(f"--format {output_format!r}: expected table or json")
    folder = resolve_variant_dir(variant_dir)
    sourced = gather_texts(texts or [], file)
    predictor = load_predictor(folder)
    predictions = predictor.predict(sourced)
    if output_format == "json":
        echo(json.dumps([item.to_dict() for item in predictions], ensure_ascii=False, indent=2))
        return
    console.print(_predictions_table(predictor.variant_dir, predictor.classes, predictions))


def _predictions_table(variant_dir: Path, classes: tuple[str, ...], predictions: list[Any]) -> Table:
    """One row per text: its number, the text (whitespace collapsed, cut to what the terminal leaves), the label in
    bold and every class probability."""
    from rich.text import Text

    widths = [len(str(len(predictions))), max(map(len, classes)), *(min(max(len(name), 5), 12) for name in classes)]
    borders = 3 * (len(widths) + 1) + 1  # a bar and a space either side of each of the columns and the text column
    room = max(12, min(PREDICT_TEXT_WIDTH, console.width - sum(widths) - borders))
    table = Table(title=f"{variant_dir}: predicted label and probability of each class")
    table.add_column("#", justify="right", no_wrap=True, min_width=widths[0])
    table.add_column("text", overflow="ellipsis", no_wrap=True, max_width=room)
    table.add_column("label", no_wrap=True, min_width=widths[1])
    for name, width in zip(classes, widths[2:], strict=True):
        table.add_column(name, justify="right", min_width=width)  # a long class name wraps in a narrow terminal
    for number, item in enumerate(predictions, start=1):
        shown = " ".join(item.text.split())
        shown = shown if len(shown) <= room else shown[: room - 1] + "…"
        table.add_row(str(number), Text(shown), Text(item.label, style="bold"),
                      *(f"{item.probabilities[name]:.3f}" for name in classes))
    return table


@app.command()
@user_errors
def eda(
    source: Annotated[str, typer.Argument(
        help="a data source (airline, text_csv, image_folder, digits, retail, co2) or a recipe (name or .yaml) whose "
             "data section is used")],
    data: Annotated[Path | None, typer.Option(help=DATA_HELP)] = None,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="a data key, e.g. --set data.options.min_freq=1, --set data.max_per_class=500 or --set "
                      "data.options.level=store")] = None,
    out: Annotated[Path | None, typer.Option(
        help="parent folder (default runs/eda); each call writes a new <source>-<timestamp> folder in it")] = None,
) -> None:
    """Draw a dataset's figures and facts alone, without training: eda.html and eda.md in a new folder."""
    from trainlab.eda import run_eda

    result = run_eda(source, data, _parse_options(overrides or [], "--set", "data.options.min_freq=1"), out)
    echo(f"{result.html}\n{result.markdown}")


def _register_labs() -> None:
    """The labs beyond training: from-scratch nets (gradcheck, gradflow, lstm-step) and calculators (calc)."""
    from trainlab.bench.cli import register as register_bench
    from trainlab.calc.cli import calc_app
    from trainlab.checks.cli import register
    from trainlab.style.cli import register as register_style

    register(app)
    register_style(app)
    register_bench(app)
    app.add_typer(calc_app, name="calc", help="layer output shapes and parameter counts (PyTorch and Keras)")


_register_labs()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
