"""Malformed input to gradflow and lstm-step: one ``error:`` line and exit 2, before any work; YAML 1.2 numbers."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
import typer
import yaml
from typer.testing import CliRunner

import trainlab.checks.gradflow as gradflow_module
from trainlab.checks.lstm_step import load_lstm_weights

runner = CliRunner()


def error_line(app: typer.Typer, args: list[str]) -> str:
    """Run ``args``; assert exit 2, no traceback and a single ``error:`` line; return that line."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_gradflow_out_under_a_file_fails_before_computing(app: typer.Typer, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("run_gradflow ran before --out was checked")

    monkeypatch.setattr(gradflow_module, "run_gradflow", never)
    line = error_line(app, ["gradflow", "--steps", "5", "--out", str(blocker / "sub")])
    assert line == f"error: --out {blocker / 'sub'} lies under {blocker}, which is a file; expected a folder " \
                   "(give another path)"
    assert blocker.read_text() == "not a folder"


def test_gradflow_write_failure_is_one_line(app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(path: object, data: bytes) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gradflow_module, "atomic_write_bytes", full_disk)
    line = error_line(app, ["gradflow", "--steps", "5", "--out", str(tmp_path / "flow")])
    assert line == f"error: --out {tmp_path / 'flow'}: cannot write the report: No space left on device"


def test_gradflow_paths_are_printed_whole(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / ("a-long-folder-name-" * 6) / "flow"  # far wider than 80 columns
    result = runner.invoke(app, ["gradflow", "--cell", "lstm", "--steps", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-2:] == [str(out / "gradflow.png"), str(out / "gradflow.md")]


def test_weights_read_yaml_1_2_exponents(app: typer.Typer, tmp_path: Path, half: dict[str, float]) -> None:
    """``W_i: 1e-3`` is the number 0.001 (PyYAML alone reads it as the string '1e-3')."""
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in half.items() if k != "W_i"}) + "W_i: 1e-3\n", encoding="utf-8")
    assert np.array_equal(load_lstm_weights(path).i.W_x, np.array([[0.001]]))
    result = runner.invoke(app, ["lstm-step", "--x", "1", "--weights", str(path)])
    assert result.exit_code == 0, result.output
    z_i = next(line for line in result.output.splitlines() if "z_i = W_i x" in line)
    assert z_i.split("│")[2].strip() == "0.001000"  # z_i = 0.001·1 + 0.5·0 + 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"W_i: \xff\xfe\n", "is not UTF-8 text: byte 0xff on line 1 cannot be decoded; save the file as UTF-8"),
        (("W_i: " + "[" * 5000 + "]" * 5000 + "\n").encode(), "is not valid YAML: lists or mappings are nested too "
                                                              "deeply"),
        (("W_i: " + "[" * 100 + "1" + "]" * 100 + "\n").encode(), "W_i is nested 100 lists deep; expected a number, "
                                                                  "a list or a list of lists"),
        (f"W_i: {10**400}\n".encode(), "W_i holds a number too large for float64; expected finite numbers"),
        (b"W_i: [1, 2\n", "is not valid YAML: line 2, column 1"),
    ],
)
def test_bad_weights_files_are_one_line(app: typer.Typer, tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_bytes(content)
    line = error_line(app, ["lstm-step", "--x", "1", "--weights", str(path)])
    assert line.startswith(f"error: weights file {path} ") or line.startswith(f"error: {path}: ")
    assert message in line


def test_weights_path_that_is_a_folder(app: typer.Typer, tmp_path: Path) -> None:
    line = error_line(app, ["lstm-step", "--x", "1", "--weights", str(tmp_path)])
    assert line == f"error: weights file {tmp_path} is a folder; expected a file"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--x", ""], "error: --x is empty; expected steps such as 1,0.5 (scalars) or \"1 2;0.5 0\" (vectors)"),
        (["--x", "nan"], "error: --x 'nan' holds a non-finite number"),
        (["--x", "1", "--h0", ""], "error: --h0 is empty"),
        (["--x", "1", "--target", "inf"], "error: --target 'inf' holds a non-finite number"),
    ],
)
def test_empty_and_non_finite_steps(app: typer.Typer, tmp_path: Path, args: list[str], message: str,
        half: dict[str, float]) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(half), encoding="utf-8")
    assert error_line(app, ["lstm-step", "--weights", str(path), *args]).startswith(message)
