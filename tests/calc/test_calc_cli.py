"""``trainlab calc``: the sub-app mounted as the lead mounts it; printed numbers and one-line user errors."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from trainlab.calc.cli import calc_app

app = typer.Typer()
app.add_typer(calc_app, name="calc")
runner = CliRunner()
CONV = ["calc", "conv", "--input", "32x28x3", "--filters", "10", "--kernel", "5", "--stride", "1", "--padding", "0"]


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_conv_course_example() -> None:
    output = invoke(*CONV)
    assert "28×24×10" in output and "760" in output
    assert "⌊(32 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1" in output
    assert "30×26×10" in invoke(*CONV[:-1], "1")
    gray = invoke("calc", "conv", "--input", "32x28x1", "--filters", "10", "--kernel", "5")
    assert "260" in gray and "28×24×10" in gray
    assert "750" in invoke(*CONV, "--no-bias")
    assert "32×26×4" in invoke("calc", "conv", "--input", "32x28x3", "--filters", "4", "--kernel", "3,1")


def test_pool_and_convtranspose() -> None:
    assert "14×12×10" in invoke("calc", "pool", "--input", "28x24x10", "--kernel", "2", "--stride", "2")
    assert "AvgPool2d" in invoke("calc", "pool", "--input", "28x24x10", "--kernel", "2", "--kind", "avg")
    assert "15×13×10" in invoke("calc", "pool", "--input", "29x25x10", "--kernel", "2", "--ceil-mode")
    output = invoke("calc", "convtranspose", "--input", "14x12x10", "--filters", "3", "--kernel", "2", "--stride", "2")
    assert "28×24×3" in output and "123" in output


def test_params_both_conventions() -> None:
    output = invoke("calc", "params", "lstm", "--input", "16", "--hidden", "32")
    assert "PyTorch" in output and "6,400" in output and "Keras" in output and "6,272" in output
    assert "b_ih" in output
    assert "16,000" in invoke("calc", "params", "embedding", "--vocab", "1000", "--dim", "16")
    assert "8,448" in invoke("calc", "params", "linear", "--input", "32", "--units", "256")
    assert "760" in invoke("calc", "params", "conv2d", "--channels", "3", "--filters", "10", "--kernel", "5")
    gru = invoke("calc", "params", "gru", "--input", "16", "--hidden", "32", "--no-reset-after")
    assert "4,800" in gru and "4,704" in gru
    batchnorm = invoke("calc", "params", "batchnorm", "--channels", "64")
    assert "128" in batchnorm and "256" in batchnorm and "buffers" in batchnorm


def test_keras_course_example() -> None:
    output = invoke("calc", "keras", "Embedding(1000,16,input_length=200); LSTM(32); Dense(256); Dense(1)")
    for text in ("(None, 200, 16)", "16,000", "(None, 32)", "6,272", "(None, 256)", "8,448", "(None, 1)", "257",
                 "Total params: 30,977"):
        assert text in output


def test_model_table() -> None:
    output = invoke("calc", "model", "vgg13-ablation")
    assert "Total params: 34,591,299" in output
    assert "features.0" in output and "64×64×64" in output and "2048·4096 + 4096" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["calc", "conv", "--input", "32x-28x3", "--filters", "10", "--kernel", "5"], "has a size <= 0"),
        (["calc", "conv", "--input", "32x28", "--filters", "10", "--kernel", "5"], "expected WxHxC"),
        (["calc", "conv", "--input", "4x4x3", "--filters", "10", "--kernel", "5"], "larger than the padded input"),
        (["calc", "conv", "--input", "8x8x3", "--filters", "10", "--kernel", "3", "--stride", "0"],
         "--stride must be a positive integer, got 0"),
        (["calc", "conv", "--input", "8x8x3", "--filters", "0", "--kernel", "3"], "filters must be a positive"),
        (["calc", "pool", "--input", "8x8x3", "--kernel", "2", "--kind", "min"], "must be 'max' or 'avg'"),
        (["calc", "params", "lstm", "--input", "16"], "params lstm needs --hidden"),
        (["calc", "params", "conv", "--input", "16"], "unknown layer kind 'conv'"),
        (["calc", "keras", "Embedding(1000,16; LSTM(32)"], "unbalanced parentheses"),
        (["calc", "keras", "Dense(256); Dense(1)"], "needs an input shape first"),
        (["calc", "model", "nope"], "unknown recipe 'nope'"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.startswith("error:")
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
