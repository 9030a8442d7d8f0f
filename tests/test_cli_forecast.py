"""The CLI's forecasting-model paths: summary by data columns, options of another input kind refused in one line, and
calc model's pointer to summary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainlab.calc.params import linear_params, recurrent_params
from trainlab.cli import app

runner = CliRunner()


def _total(output: str) -> int:
    match = re.search(r"Total params: ([\d,]+)", output)
    assert match, output
    return int(match.group(1).replace(",", ""))


def test_summary_of_the_course_lstm_stack() -> None:
    result = runner.invoke(app, ["summary", "series_lstm", "--features", "17"])
    assert result.exit_code == 0, result.output
    # LSTM 17 → 128 → 256 → 512 (PyTorch's two biases per gate set), Linear 512 → 1
    layers = sum(recurrent_params("lstm", i, h) for i, h in ((17, 128), (128, 256), (256, 512)))
    assert _total(result.output) == 2_048_001 == layers + linear_params(512, 1)
    assert "LSTM" in result.output and "[1, 8, 512]" in result.output  # the default window: 8 steps
    assert "Estimated Total Size (MB)" in result.output


def test_summary_with_a_horizon_and_future_covariates() -> None:
    result = runner.invoke(app, ["summary", "series_gru", "--features", "5", "--window", "12", "--horizon", "29",
                                 "--future", "3", "--option", "num_layers=1"])
    assert result.exit_code == 0, result.output
    assert _total(result.output) == recurrent_params("gru", 5, 64) + linear_params(64 + 29 * 3, 29)
    assert "[1, 12, 64]" in result.output and "[1, 29]" in result.output


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["series_lstm", "--vocab-size", "100"],
         "error: --vocab-size does not apply to model 'series_lstm', which reads windows of a time series; its data "
         "options: --features, --window, --horizon, --future"),
        (["series_rnn", "--num-classes", "3"],
         "error: --num-classes does not apply to model 'series_rnn', which reads windows of a time series; its data "
         "options: --features, --window, --horizon, --future"),
        (["vgg13", "--window", "4"],
         "error: --window does not apply to model 'vgg13', which reads images; its data options: --in-channels, "
         "--image-size, --num-classes"),
        (["lstm", "--image-size", "32"],
         "error: --image-size does not apply to model 'lstm', which reads token sequences; its data options: "
         "--num-classes, --vocab-size, --seq-len"),
        (["series_lstm", "--features", "0"], "error: n_features must be a positive integer, got 0"),
        (["series_lstm", "--window", "0"], "error: --window must be a positive integer, got 0"),
        (["series_lstm", "--future", "-1"], "error: n_future must be an integer >= 0, got -1"),
        (["series_lstm", "--option", "hidden_size=8"],
         "error: model 'series_lstm' has no option 'hidden_size'; its options: hidden_sizes, residual"),
    ],
)
def test_summary_mistakes_are_one_line(args: list[str], line: str) -> None:
    result = runner.invoke(app, ["summary", *args], env={"COLUMNS": "250"})
    assert result.exit_code == 2, result.output
    assert " ".join(result.output.split()) == line


def test_calc_model_of_a_window_recipe_points_to_summary(tmp_path: Path) -> None:
    recipe = tmp_path / "sales.yaml"
    recipe.write_text("name: sales\nmodel:\n  name: series_lstm\n", encoding="utf-8")
    result = runner.invoke(app, ["calc", "model", str(recipe)])
    assert result.exit_code == 2, result.output
    assert "trainlab summary series_lstm --features F --window W --horizon H --future K" in " ".join(
        result.output.split())
