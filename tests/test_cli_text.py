"""The CLI's text-model paths: summary by vocabulary size, recipes listing, calc model's pointer to summary."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from trainlab.cli import app
from trainlab.models.text import recurrent_params

runner = CliRunner()


def _total(output: str) -> int:
    match = re.search(r"Total params: ([\d,]+)", output)
    assert match, output
    return int(match.group(1).replace(",", ""))


def test_summary_of_the_course_lstm_for_a_vocabulary() -> None:
    result = runner.invoke(app, ["summary", "lstm", "--vocab-size", "10000", "--num-classes", "3"])
    assert result.exit_code == 0, result.output
    # Embedding 10,000×128, LSTM 3×256 (PyTorch's two biases), Linear 256→3
    assert _total(result.output) == 2_728_707 == recurrent_params("lstm", 10_000, 128, 256, 3, False, 3)
    assert "Embedding" in result.output and "LSTM" in result.output


def test_summary_of_a_bilstm_option_and_a_bad_sequence_length() -> None:
    result = runner.invoke(app, ["summary", "bilstm", "--vocab-size", "500", "--option", "num_layers=1"])
    assert result.exit_code == 0, result.output
    assert _total(result.output) == recurrent_params("lstm", 500, 128, 256, 1, True, 3)
    bad = runner.invoke(app, ["summary", "lstm", "--seq-len", "0"])
    assert bad.exit_code == 2 and "--seq-len must be a positive integer" in bad.output


def test_recipes_list_text_recipes_as_texts() -> None:
    result = runner.invoke(app, ["recipes"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 3}
    assert "airline texts" in rows["airline-lstm"] and "digits 1x32x32" in rows["digits-demo"]


def test_calc_model_of_a_text_recipe_points_to_summary() -> None:
    result = runner.invoke(app, ["calc", "model", "airline-lstm"])
    assert result.exit_code == 2
    assert "trainlab summary lstm --vocab-size N" in " ".join(result.output.split())
