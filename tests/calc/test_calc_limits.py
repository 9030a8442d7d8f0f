"""Adversarial input to the calculators: every one is a single ``error:`` line and exit 2, never a traceback."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from trainlab.calc.cli import calc_app
from trainlab.calc.keras import MAX_DESCRIPTION, MAX_NESTING, keras_summary
from trainlab.calc.shapes import MAX_SIZE, parse_volume
from trainlab.errors import TrainlabError

app = typer.Typer()
app.add_typer(calc_app, name="calc")
runner = CliRunner()
HUGE = "9" * 4000  # under Python's 4,300-digit limit for int(), but a product of two has 8,000 digits


def one_error_line(*args: str) -> str:
    """Run ``calc ARGS``; assert exit 2 and a single ``error:`` line; return that line."""
    result = runner.invoke(app, ["calc", *args])
    assert result.exit_code == 2, result.output
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_a_description_too_long_is_refused_before_parsing() -> None:
    description = "Dense(" + "-" * 50_000 + "1)"  # made ast.parse raise MemoryError
    line = one_error_line("keras", description)
    assert line == f"error: the Keras description is 50,008 characters long; expected at most {MAX_DESCRIPTION:,}"


@pytest.mark.parametrize("signs", [1_000, 5_000, 9_000])
def test_a_run_of_minus_signs_is_one_line(signs: int) -> None:
    """1,000 signs made ast.unparse recurse too deep, 5,000 made ast.parse raise RecursionError, 9,000 MemoryError."""
    line = one_error_line("keras", "Input(shape=(3,)); Dense(" + "-" * signs + "1)")
    shown = "Dense(" + "-" * 51 + "..."  # the layer's text is cut to 60 characters in the message
    assert line == (f"error: layer 2 '{shown}': too deeply nested to read; expected Name(args) with literal "
                    "arguments, e.g. Dense(64)")


def test_a_few_minus_signs_are_a_bad_argument() -> None:
    assert one_error_line("keras", "Input(shape=(3,)); Dense(---1)") == (
        "error: layer 2 'Dense(---1)': bad argument '---1'; expected a number, string, tuple, True/False or None")


def test_deep_minus_chain_reports_too_deeply_nested() -> None:
    with pytest.raises(TrainlabError, match=r"^layer 1 'Dense\(-+\.\.\.': too deeply nested to read;"):
        keras_summary("Dense(" + "-" * 5_000 + "1)")


def test_brackets_nested_too_deep() -> None:
    depth = MAX_NESTING  # Dense's own '(' plus this many more
    with pytest.raises(TrainlabError, match=f"brackets nested more than {MAX_NESTING} deep"):
        keras_summary("Dense(" + "(" * depth + "1" + ")" * depth + ", input_dim=3)")
    inner = MAX_NESTING - 1  # one level less: plain grouping parentheses around 1 are fine
    summary = keras_summary("Dense(" + "(" * inner + "1" + ")" * inner + ", input_dim=3)")
    assert summary.total == 4  # 3·1 + 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["conv", "--input", f"{'9' * 5000}x8x3", "--filters", "1", "--kernel", "3"],
         "holds a 5000-digit number; expected at most 1,000,000,000,000"),
        (["conv", "--input", "8x8x3", "--filters", "1", "--kernel", f"3,{'9' * 5000}"],
         "--kernel '3,99999999999999999999999999999999999...' holds a 5000-digit number"),
        (["conv", "--input", "8x8x3", "--filters", HUGE, "--kernel", "3"],
         "filters must be at most 1,000,000,000,000, got a number of 4,000 digits"),
        (["params", "lstm", "--input", HUGE, "--hidden", HUGE], "input_size must be at most 1,000,000,000,000"),
        (["params", "linear", "--input", HUGE, "--units", "2"], "in_features must be at most 1,000,000,000,000"),
        (["params", "lstm", "--input", f"-{HUGE}", "--hidden", "2"],
         "input_size must be a positive integer, got a negative number of 4,000 digits"),
        (["keras", f"Input(shape=({HUGE},)); Dense(2)"], "shape must be at most 1,000,000,000,000"),
        (["keras", "Input(shape=(" + "100000," * 900 + ")); Flatten()"],
         "Flatten output size must be at most 1,000,000,000,000, got a number of 4,501 digits"),
        (["keras", "Input(shape=(8,)); Dense(1e10)"], "units must be an integer, got 10000000000.0"),
        (["keras", ""], "the Keras description is empty"),
        (["keras", ";"], "the Keras description is empty"),
        (["conv", "--input", "", "--filters", "1", "--kernel", "3"], "--input '' is malformed"),
        (["conv", "--input", "8x8x3", "--filters", "1", "--kernel", ""], "--kernel '' is malformed"),
        (["model", "digits-demo", "--num-classes", "99999999999999999999"],
         "num_classes must be at most 1,000,000, got 99,999,999,999,999,999,999"),
    ],
)
def test_huge_and_empty_values_are_one_line(args: list[str], message: str) -> None:
    assert message in one_error_line(*args)


def test_sizes_up_to_the_maximum_still_work() -> None:
    assert parse_volume(f"{MAX_SIZE}x1x1").width == MAX_SIZE
    with pytest.raises(TrainlabError, match="input width must be at most 1,000,000,000,000"):
        parse_volume(f"{MAX_SIZE + 1}x1x1")
    output = runner.invoke(app, ["calc", "params", "linear", "--input", str(MAX_SIZE), "--units", str(MAX_SIZE)])
    assert output.exit_code == 0 and "1,000,000,000,001,000,000,000,000" in output.output.replace("\n", "")
