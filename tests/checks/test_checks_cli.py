"""The three commands through Typer's CliRunner on a fresh app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

import trainlab.checks.gradcheck as gradcheck_module
from trainlab.checks.gradcheck import Row

runner = CliRunner()


@pytest.fixture
def weights(tmp_path: Path, half: dict[str, float]) -> Path:
    path = tmp_path / "weights.yaml"
    path.write_text(yaml.safe_dump(half))
    return path


def test_gradcheck_lstm_passes(app: typer.Typer) -> None:
    result = runner.invoke(app, ["gradcheck", "lstm", "--hidden", "8", "--input", "4", "--steps", "6"])
    assert result.exit_code == 0, result.output
    for name in [f"{kind}{k}" for k in "ifgo" for kind in ("W_x", "W_h", "b_")] + ["h0", "c0"]:
        assert re.search(rf"│ {name}\s", result.output), name
    assert "torch.nn.LSTM" in result.output and "all 15 tensors pass" in result.output


def test_gradcheck_rnn_sigmoid_passes(app: typer.Typer) -> None:
    result = runner.invoke(app, ["gradcheck", "rnn", "--hidden", "8", "--input", "4", "--steps", "6",
                                 "--activation", "sigmoid", "--loss", "last", "--seed", "1"])
    assert result.exit_code == 0, result.output
    for name in ("W_x", "W_h", "b", "x", "h0"):
        assert re.search(rf"│ {name}\s", result.output), name
    assert "torch.sigmoid" in result.output


def test_gradcheck_exits_1_on_a_failed_check(app: typer.Typer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gradcheck_module, "run_gradcheck",
                        lambda *args: [Row("W_h", (2, 2), 0.3, 1e-17, "torch.nn.RNN")])
    result = runner.invoke(app, ["gradcheck", "rnn"])
    assert result.exit_code == 1 and "FAILED: W_h" in result.output


def test_lstm_step_prints_gates_and_the_loss(app: typer.Typer, weights: Path) -> None:
    result = runner.invoke(app, ["lstm-step", "--x", "1,0.5", "--h0", "0", "--c0", "0", "--weights", str(weights),
                                 "--target", "0.5,0.8"])
    assert result.exit_code == 0, result.output
    match = re.search(r"loss \(MSE.*\) = ([0-9.]+)", result.output)
    assert match and float(match.group(1)) == pytest.approx(0.2329854, abs=1e-6)
    for text in ("i = σ(z_i)", "g = tanh(z_g)", "0.622459", "0.287649", "0.174270", "0.200108", "step 2"):
        assert text in result.output


def test_gradflow_writes_png_and_md(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "flow"
    result = runner.invoke(app, ["gradflow", "--cell", "rnn", "--activation", "sigmoid", "--weights", "1,2,4,6",
                                 "--steps", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "gradflow.png").is_file() and "exploding" in (out / "gradflow.md").read_text(encoding="utf-8")
    lstm = runner.invoke(app, ["gradflow", "--cell", "lstm", "--forget-bias", "0,1", "--steps", "10",
                               "--out", str(out)])
    assert lstm.exit_code == 0 and "0.731059" in lstm.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gradcheck", "lstm", "--hidden", "0"], "--hidden 0 is out of range"),
        (["gradcheck", "rnn", "--steps", "0"], "--steps 0 is out of range"),
        (["gradcheck", "gru"], "unknown cell 'gru'"),
        (["gradflow", "--weights", "1,x"], "--weights '1,x' holds a non-number; expected numbers such as 1,2,4,6"),
        (["gradflow", "--weights", ","], "--weights is empty"),
        (["gradflow", "--cell", "lstm", "--forget-bias", "0,inf"], "--forget-bias '0,inf' holds a non-finite number"),
        (["gradflow", "--cell", "gru"], "unknown cell 'gru'"),
        (["lstm-step", "--x", "1,a", "--weights", "WEIGHTS"], "--x '1,a' holds a non-number"),
        (["lstm-step", "--x", "1,0.5", "--weights", "WEIGHTS", "--target", "0.5"], "--target has 1 step"),
        (["lstm-step", "--x", "1", "--weights", "BAD"], r"U_i has shape \(2,\); expected \(1, 1\)"),
        (["lstm-step", "--x", "1", "--weights", "/nonexistent.yaml"], "does not exist"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(app: typer.Typer, weights: Path, args: list[str], message: str,
        half: dict[str, float]) -> None:
    bad = weights.with_name("bad.yaml")
    bad.write_text(yaml.safe_dump(half | {"U_i": [0.5, 0.5]}))
    args = [str(weights) if a == "WEIGHTS" else str(bad) if a == "BAD" else a for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert re.search(message, result.output) and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
