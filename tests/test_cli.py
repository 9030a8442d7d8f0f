"""The command line: exit codes, one-line errors, and the printed numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainlab.cli import app

runner = CliRunner()


def test_summary_prints_the_course_parameter_count() -> None:
    result = runner.invoke(app, ["summary", "vgg13", "--in-channels", "3", "--image-size", "64", "--num-classes", "3"])
    assert result.exit_code == 0, result.output
    assert "Total params: 34,591,299" in result.output
    assert "Estimated Total Size (MB)" in result.output
    assert "[1, 512, 2, 2]" in result.output  # the last pool's output, flattened into 2048 features


def test_summary_with_options_and_resnet() -> None:
    result = runner.invoke(app, ["summary", "resnet18", "--in-channels", "1", "--image-size", "32"])
    assert result.exit_code == 0 and "Total params: 11,171,779" in result.output
    gray = runner.invoke(app, ["summary", "vgg13", "--in-channels", "1", "--image-size", "32", "--option",
                               "hidden=[4096, 4096, 1000]", "--option", "pool_last=false"])
    assert gray.exit_code == 0 and "Total params: 38,677,859" in gray.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["summary", "vgg99"], "unknown model 'vgg99'"),
        (["summary", "resnet18", "--option", "batch_norm=true"], "has no option 'batch_norm'"),
        (["run", "nope"], "unknown recipe 'nope'"),
        (["run", "digits-demo", "--set", "training.epochs=-1"], "training.epochs"),
        (["report", "/nonexistent/run"], "not a trainlab run folder"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_bad_recipe_leaves_no_run_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "digits-demo", "--out", str(tmp_path / "runs"), "--set", "training.lr=-1"])
    assert result.exit_code == 2 and "training.lr" in result.output
    assert not (tmp_path / "runs").exists()


def test_missing_data_path_leaves_no_run_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "vgg13-ablation", "--data", str(tmp_path / "nowhere"),
                                 "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "nowhere" in result.output
    assert not (tmp_path / "runs").exists()


def test_recipes_lists_the_packaged_recipes() -> None:
    result = runner.invoke(app, ["recipes"])
    assert result.exit_code == 0
    for name in ("vgg13-ablation", "vgg13-gray32", "resnet18-ablation", "digits-demo"):
        assert name in result.output
    shown = runner.invoke(app, ["recipes", "--show", "vgg13-ablation"])
    assert "weight_decay: 0.0005" in shown.output and "image_size: 64" in shown.output


def test_error_text_is_printed_as_is_not_as_markup(tmp_path: Path) -> None:
    """Rich would swallow "[bold]" or fail on "[/x]"; a path with brackets must come out verbatim."""
    odd = tmp_path / "data [bold] [/x]"
    result = runner.invoke(app, ["run", "vgg13-ablation", "--data", str(odd), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert "data [bold] [/x]" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("name", ["#hash dir", "123", "a: b", "null"])
def test_data_and_out_paths_are_taken_literally(tmp_path: Path, name: str) -> None:
    """--data and --out are paths, not YAML: '#' starts no comment, '123' stays a string."""
    result = runner.invoke(app, ["run", "vgg13-ablation", "--data", str(tmp_path / name),
                                 "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert str(tmp_path / name) in result.output.replace("\n", "")
    assert not (tmp_path / "runs").exists()
