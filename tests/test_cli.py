"""The command line: exit codes, one-line errors, and the printed numbers."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from trainlab.cli import _data_text, app
from trainlab.config import load_recipe, recipe_names
from trainlab.console import user_errors
from trainlab.errors import StudyInterrupted, TrainlabError

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
    for name in ("vgg13-ablation", "vgg13-gray32", "resnet18-ablation", "digits-demo", "forecast-demo",
                 "retail-lstm", "retail-rnn", "retail-gru", "retail-multistep"):
        assert name in result.output
    assert _data_text(load_recipe("retail-gru")) == "retail weekly series"
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


# ---------------------------------------------------------------------------------------- imports and the entry point
def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)


def test_subcommand_modules_never_import_the_entry_point() -> None:
    """calc/cli.py and checks/cli.py import the leaf trainlab.console, not trainlab.cli (no cycle), even when run."""
    code = textwrap.dedent("""
        import sys
        import typer
        from typer.testing import CliRunner
        import trainlab.calc.cli, trainlab.checks.cli
        imported = "trainlab.cli" in sys.modules
        app = typer.Typer()
        trainlab.checks.cli.register(app)
        app.add_typer(trainlab.calc.cli.calc_app, name="calc")
        bad = CliRunner().invoke(app, ["calc", "conv", "--input", "8x8", "--filters", "1", "--kernel", "3"])
        print(imported, "trainlab.cli" in sys.modules, bad.exit_code, bad.output.startswith("error: --input"))
    """)
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "2", "True"]


def test_console_imports_nothing_of_trainlab_but_errors() -> None:
    done = _python("import sys, trainlab.console; print(sorted(m for m in sys.modules if m.startswith('trainlab')))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['trainlab', 'trainlab.console', 'trainlab.errors']"


def test_python_dash_m_runs_the_cli_once() -> None:
    done = subprocess.run([sys.executable, "-m", "trainlab.cli", "--help"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    for command in ("run", "recipes", "summary", "compare", "calc", "gradcheck", "gradflow", "lstm-step"):
        assert re.search(rf"│ {command}\s", done.stdout), command
    # Run as __main__, the module must not be imported a second time as trainlab.cli (it was, through the labs).
    code = textwrap.dedent("""
        import runpy, sys
        sys.argv = ["trainlab", "calc", "pool", "--input", "4x4x1", "--kernel", "2"]
        try:
            runpy.run_module("trainlab.cli", run_name="__main__")
        except SystemExit as exit:
            print("exit", exit.code)
        print("trainlab.cli" in sys.modules)
    """)
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert "2×2×1" in done.stdout and done.stdout.split()[-3:] == ["exit", "0", "False"]


def test_entry_point_still_exports_user_errors() -> None:
    from trainlab import cli, console

    assert cli.user_errors is console.user_errors


def test_an_error_message_with_line_breaks_stays_one_line() -> None:
    tiny = typer.Typer()

    @tiny.command()
    @user_errors
    def fail() -> None:
        raise TrainlabError("bad name 'a\nb'\r\nin [bold]x[/bold]")

    result = runner.invoke(tiny, [])
    assert result.exit_code == 2
    assert result.output == "error: bad name 'a b' in [bold]x[/bold]\n"


# ------------------------------------------------------------------------------- plain text that is meant as a file
@pytest.mark.parametrize("name", recipe_names())
def test_recipes_show_round_trips_through_a_file(name: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["recipes", "--show", name])
    assert result.exit_code == 0, result.output
    assert isinstance(yaml.safe_load(result.output), dict)
    saved = tmp_path / f"{name}.yaml"
    saved.write_text(result.output, encoding="utf-8")
    assert load_recipe(saved).to_dict() == load_recipe(name).to_dict()


def test_compare_prints_whole_markdown_rows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import trainlab.report

    header = ("| Variant | Test acc A | Test acc B | Δ acc (B − A) | Macro F1 A | Macro F1 B | Δ F1 (B − A) "
              "| Test loss A | Test loss B | Epochs A | Epochs B |")
    rows = [f"| {name} | 80.00 % | 82.50 % | +2.50 pp | 79.10 % | 81.93 % | +2.83 pp | 0.5123 | 0.4987 | 4 | 6 |"
            for name in ("base", "+l2", "+l2+dropout+early_stopping+augmentation")]
    text = "\n".join([f"Comparing A = `{tmp_path / 'a'}` with B = `{tmp_path / 'b'}`.", "", header,
                      "|---|" + "---:|" * 10, *rows]) + "\n"
    monkeypatch.setattr(trainlab.report, "compare", lambda a, b: text)
    result = runner.invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert result.output == text
    table = [line for line in result.output.splitlines() if line.startswith("|")]
    assert len(table) == 5
    cells = header.count("|") - 1
    for line in table:
        assert line.endswith("|") and line.count("|") - 1 == cells, line


def test_report_prints_each_path_on_its_own_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import trainlab.report

    folder = tmp_path / ("a-very-long-run-folder-name-" * 4)
    monkeypatch.setattr(trainlab.report, "render", lambda run_dir: (folder / "report.html", folder / "report.md"))
    result = runner.invoke(app, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [str(folder / "report.html"), str(folder / "report.md")]


def test_summary_text_is_printed_unwrapped() -> None:
    from trainlab.models import build_model
    from trainlab.report.summary import model_summary

    args = ["summary", "vgg13", "--in-channels", "1", "--image-size", "32", "--width", "0.125"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    expected = model_summary(build_model("vgg13", in_channels=1, num_classes=3, image_size=32, width=0.125),
                             (1, 1, 32, 32))
    assert max(len(line) for line in expected.splitlines()) > 80  # Rich would have wrapped these lines
    assert result.output == expected + "\n"


def _fake_study(monkeypatch: pytest.MonkeyPatch, run_study: Any) -> None:
    """Replace trainlab.train.study (torch, Lightning) by a module holding only ``run_study``."""
    fake = types.ModuleType("trainlab.train.study")
    fake.run_study = run_study  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "trainlab.train.study", fake)


def test_run_prints_progress_lines_whole(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lines = [f"run folder: {tmp_path / ('runs-' * 20)}  (5 variant(s) on cpu, 32-true)",
             "[1/5] base: epoch 3/3  train loss 0.2100  val loss 0.4800  val acc 78.00 %  best epoch 2  12.5 s"]

    def run_study(recipe: Any, *, resume: Path | None = None, notify: Any = print) -> Path:
        assert recipe.name == "digits-demo" and resume is None
        for line in lines:
            notify(line)
        return tmp_path

    _fake_study(monkeypatch, run_study)
    result = runner.invoke(app, ["run", "digits-demo"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == lines


def test_ctrl_c_during_a_run_names_the_folder_to_resume(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def run_study(recipe: Any, *, resume: Path | None = None, notify: Any = print) -> Path:
        raise StudyInterrupted(tmp_path / "run")

    _fake_study(monkeypatch, run_study)
    result = runner.invoke(app, ["run", "digits-demo", "--set", "training.epochs=2", "--set", "model.width=0.25",
                                 "--out", str(tmp_path / "my runs")])
    assert result.exit_code == 130 and "Traceback" not in result.output
    run = tmp_path / "run"
    assert result.output == (f"interrupted: the finished runs are kept in {run}; continue with: "
                             f"trainlab run digits-demo --set training.epochs=2 --set model.width=0.25 "
                             f"--out '{tmp_path / 'my runs'}' --resume {run}\n")


def test_ctrl_c_before_the_run_folder_exists_says_nothing_was_written(monkeypatch: pytest.MonkeyPatch) -> None:
    def run_study(recipe: Any, *, resume: Path | None = None, notify: Any = print) -> Path:
        raise KeyboardInterrupt

    _fake_study(monkeypatch, run_study)
    result = runner.invoke(app, ["run", "digits-demo"])
    assert result.exit_code == 130
    assert result.output == "interrupted: before the run folder was made; nothing was written\n"


# ------------------------------------------------------------------------------------------------- summary mistakes
@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--width", "nan"], "error: width must be a finite number, got nan"),
        (["--width", "inf"], "error: width must be a finite number, got inf"),
        (["--width", "1000"], "error: width must be in (0, 4], got 1000"),
        (["--width", "-1"], "error: width must be in (0, 4], got -1"),
        (["--dropout", "nan"], "error: dropout must be a finite number, got nan"),
        (["--dropout", "1"], "error: dropout must be in [0, 1), got 1"),
        (["--image-size", "100000"], "error: image_size must be at most 1,024, got 100,000"),
        (["--image-size", "0"], "error: image_size must be a positive integer, got 0"),
        (["--in-channels", "99999999999999999999"],
         "error: in_channels must be at most 1,024, got 99,999,999,999,999,999,999"),
        (["--num-classes", "1"], "error: num_classes must be an integer >= 2, got 1"),
        (["--option", "batch_norm"], "error: --option 'batch_norm': expected KEY=VALUE, e.g. --option batch_norm=true"),
        (["--option", "=true"], "error: --option '=true': expected KEY=VALUE, e.g. --option batch_norm=true"),
        (["--option", "width=2"],
         "error: model 'vgg13': 'width' is a common argument, not an option; set it directly"),
    ],
)
def test_summary_mistakes_are_one_line(args: list[str], line: str) -> None:
    result = runner.invoke(app, ["summary", "vgg13", *args])
    assert result.exit_code == 2, result.output
    assert result.output == line + "\n"


def test_summary_of_a_model_too_big_for_memory_is_one_line() -> None:
    """Within every limit (width 4, 1024²) a VGG-13 has 34.8 billion parameters: refused before any allocation."""
    result = runner.invoke(app, ["summary", "vgg13", "--width", "4", "--image-size", "1024"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: model 'vgg13' at width 4, image_size 1024, 3 input channel(s) and 3 "
                                    "classes has 34,778,679,555 parameters and needs about 137.7 GiB for one image")
    assert len(result.output.splitlines()) == 1


def test_cache_lists_and_clears_what_a_run_left(tmp_path: Path) -> None:
    import tarfile

    import numpy as np
    from PIL import Image

    from trainlab.config import DataConfig
    from trainlab.data import build_dataset

    for name in ("a", "b"):
        (tmp_path / "set" / name).mkdir(parents=True)
        for index in range(6):
            Image.fromarray(np.full((8, 8), 40 * index, dtype=np.uint8)).save(tmp_path / "set" / name / f"{index}.png")
    archive = tmp_path / "set.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "set", arcname="set")
    cache = tmp_path / "cache"
    build_dataset(DataConfig(source="image_folder", path=archive, image_size=8, channels=1), cache)

    listed = runner.invoke(app, ["cache", "--dir", str(cache)])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["archive", "images"]
    assert lines[0].endswith(str(archive.resolve())) and lines[-1].startswith("2 entries, ")
    cleared = runner.invoke(app, ["cache", "--dir", str(cache), "--clear"])
    assert cleared.exit_code == 0 and cleared.output.startswith(f"removed 2 entries from {cache}, ")
    assert cache.is_dir() and not any(cache.iterdir())
    assert runner.invoke(app, ["cache", "--dir", str(cache)]).output == f"{cache}: nothing cached\n"
    (tmp_path / "notes.txt").write_text("mine")
    refused = runner.invoke(app, ["cache", "--dir", str(tmp_path), "--clear"])
    assert refused.exit_code == 2 and "is not a trainlab cache folder" in refused.output
    assert (tmp_path / "notes.txt").read_text() == "mine"


# ------------------------------------------------------------------------------------------------------ run --dry-run
def test_dry_run_prints_every_variant_and_the_estimate_and_creates_nothing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "digits-demo", "--dry-run", "--out", str(tmp_path / "runs"),
                                 "--set", "data.max_per_class=20", "--set", "training.epochs=1", "--set",
                                 f"output.cache_dir={tmp_path / 'cache'}", "--set", "training.accelerator=cpu"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "cache").exists()
    lines = result.output.splitlines()
    assert lines[:3] == [
        "loading data: digits",
        "study: digits-demo (cumulative), 5 variants, seeds 0",
        "data: digits (scikit-learn load_digits, 1,797 8x8 images); train 140 / val 30 / test 30 images, 1×32×32",
    ]
    assert lines[3].startswith("device: cpu: ") and lines[3].endswith(" threads), precision 32-true")
    assert "technique augmentation: regularization.augmentation={crop_ratio: [0.9, 1.1], crop_scale: [0.8, 1.0], " \
           "hflip: 0.0}" in lines
    for name in ("base", "+l2", "+l2+dropout", "+l2+dropout+early_stopping", "+l2+dropout+early_stopping+augmentation"):
        (row,) = [line for line in lines if line.startswith(name + " ")]
        assert row.split()[1:4] == ["449,122", "1", "64"]  # parameters, epochs, batch size
    assert "per epoch: 3 train steps + 1 validation batches (base); after training, 5 batches evaluate train, val " \
           "and test" in lines
    assert re.fullmatch(r"plan: 5 variants × 1 seed × 1 epoch, about [\d.]+ s on cpu \(from timed steps of 3 "
                        r"settings; training and evaluation only, early stopping can end a variant sooner\)", lines[-2])
    assert lines[-1].startswith("dry run: nothing trained, no run folder made")
    assert not any(line.startswith("warning:") for line in lines)


def test_dry_run_of_a_full_width_vgg13_on_a_cpu_warns_and_exits_0(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    """The course data's split sizes (6,300 / 1,350 / 1,350) with the 3 s step two CPU cores take (timing faked)."""
    import torch

    from trainlab.data import DataBundle, TensorSplit
    from trainlab.train import plan, study

    def course_sized(cfg: Any, cache_dir: Path) -> DataBundle:
        def split(count: int) -> TensorSplit:
            images = torch.zeros((1, 3, 64, 64), dtype=torch.uint8).expand(count, -1, -1, -1)
            return TensorSplit(images, torch.arange(count) % 3)
        return DataBundle(split(6300), split(1350), split(1350), ["dogs", "food", "vehicles"], source="course")

    monkeypatch.setattr(study, "build_dataset", course_sized)
    monkeypatch.setattr(plan, "time_steps", lambda *_: plan.StepTiming(3.0, 1.0, 1))
    result = runner.invoke(app, ["run", "vgg13-ablation", "--data", str(tmp_path / "course"), "--dry-run",
                                 "--out", str(tmp_path / "runs"), "--set", "training.accelerator=cpu"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "runs").exists()
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: this study would take about 20 h 32 min on " + result.output.split("device: ")[1].split(",")[0]
        + "; to size it for a CPU, add --set model.width=0.125 --set model.options.batch_norm=true "
          "--set data.image_size=32 --set study.repeats=1 (or train it on a GPU)"]
    assert "plan: 5 variants × 3 seeds × 15 epochs, about 20 h 32 min on cpu (" in result.output
