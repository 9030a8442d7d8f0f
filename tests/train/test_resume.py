"""Interrupted studies: Ctrl-C names the run folder, an interrupted variant continues from its last finished epoch
bit-identical (CPU) to an uninterrupted run, and a resume refuses data other than the data it started with."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from trainlab.config import load_recipe
from trainlab.errors import StudyInterrupted, TrainlabError
from trainlab.train import fit as fit_module
from trainlab.train.study import run_study

FAST = ["training.progress_bar=false", "study.baselines=[]", "study.mode=single", "data.max_per_class=40",
        "training.batch_size=32", "training.epochs=4"]
# Every random stream a resume must restore: shuffling, dropout, augmentation; early stopping's state too.
RANDOM = ["regularization.dropout=0.3", "regularization.early_stopping={patience: 3}",
          "regularization.augmentation={crop_scale: [0.7, 1.0], hflip: 0.5}"]


def _recipe(tmp_path: Path, *overrides: str) -> object:
    return load_recipe("digits-demo", [*FAST, f"output.dir={tmp_path / 'runs'}",
                                       f"output.cache_dir={tmp_path / 'cache'}", *overrides])


def _quiet(_: str) -> None:
    pass


class _CtrlC(L.Callback):
    """Ctrl-C in the middle of an epoch (batch ``batch`` of epoch ``epoch``, both from 0)."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: object,
                             batch_idx: int) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            raise KeyboardInterrupt


def _interrupt_at(monkeypatch: pytest.MonkeyPatch, epoch: int, batch: int) -> None:
    original = fit_module._Callbacks.__init__

    def with_ctrl_c(self: fit_module._Callbacks, recipe: object, out_dir: Path, model: object) -> None:
        original(self, recipe, out_dir, model)  # type: ignore[arg-type]
        self.all.append(_CtrlC(epoch, batch))

    monkeypatch.setattr(fit_module._Callbacks, "__init__", with_ctrl_c)


def _results(run_dir: Path) -> tuple[dict, str, dict[str, torch.Tensor]]:
    metrics = json.loads((run_dir / "base" / "metrics.json").read_text())
    for key in ("wall_time_s", "train_images_per_s"):
        metrics.pop(key)
    weights = torch.load(run_dir / "base" / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    return metrics, (run_dir / "base" / "history.csv").read_text(), weights


@pytest.mark.parametrize(("epoch", "batch"), [(0, 2), (2, 5)])
def test_an_interrupted_variant_continues_bit_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        epoch: int, batch: int) -> None:
    straight = run_study(_recipe(tmp_path / "a", *RANDOM), notify=_quiet)  # type: ignore[arg-type]
    recipe = _recipe(tmp_path / "b", *RANDOM)
    with monkeypatch.context() as patch:
        _interrupt_at(patch, epoch, batch)
        with pytest.raises(StudyInterrupted) as caught:
            run_study(recipe, notify=_quiet)  # type: ignore[arg-type]
    run_dir = Path(caught.value.run_dir)  # type: ignore[arg-type]
    last = run_dir / "base" / "checkpoints" / "last.ckpt"
    assert not (run_dir / "base" / "metrics.json").exists()
    assert last.is_file() == (epoch > 0)  # a checkpoint after each finished epoch, none before the first
    lines: list[str] = []
    assert run_study(recipe, resume=run_dir, notify=lines.append) == run_dir  # type: ignore[arg-type]
    expected = "continuing from its last finished epoch" if epoch > 0 else "training"
    assert any(line.endswith(f"base: {expected}") for line in lines), lines
    metrics, history, weights = _results(run_dir)
    metrics_a, history_a, weights_a = _results(straight)
    assert metrics == metrics_a and history == history_a
    assert weights.keys() == weights_a.keys() and all(torch.equal(weights[k], weights_a[k]) for k in weights)
    assert not last.exists()  # the full-state checkpoint goes once the variant is done
    assert len(history.splitlines()) == 1 + metrics["epochs_run"]


def _image_folder(root: Path, per_class: int = 10) -> Path:
    rng = np.random.default_rng(0)
    for label, name in enumerate(("circles", "squares")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            pixels = rng.integers(0, 120, size=(32, 32), dtype=np.uint8) + 100 * label
            Image.fromarray(pixels, mode="L").save(root / name / f"{index}.png")
    return root


def test_resume_refuses_other_data_and_accepts_the_same_data_by_another_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _image_folder(tmp_path / "shapes")
    backup = shutil.copytree(folder, tmp_path / "backup")
    techniques = "study.techniques={l2: {regularization.weight_decay: 0.001}}"
    recipe = _recipe(tmp_path, "data.source=image_folder", f"data.path={folder}", "study.mode=one_at_a_time",
                     techniques, "training.epochs=1")
    run_dir = run_study(recipe, notify=_quiet)  # type: ignore[arg-type]
    (run_dir / "plus-l2" / "metrics.json").unlink()  # as if the study had stopped before its second variant
    assert json.loads((run_dir / "study.json").read_text())["data"]["fingerprint"]

    for name in ("3.png", "4.png", "5.png"):
        (folder / "circles" / name).unlink()
    with pytest.raises(TrainlabError, match=r"cannot resume .*: the data differs from the data it ran with \(.*"
                                            r"images then, .* now \(circles .* then, .* now\)"):
        run_study(recipe, resume=run_dir, notify=_quiet)  # type: ignore[arg-type]
    assert not (run_dir / "plus-l2" / "metrics.json").exists()  # nothing trained on the other data

    shutil.rmtree(folder)
    shutil.copytree(backup, folder)  # the same images again (new mtimes: only names, sizes and pixels count)
    monkeypatch.chdir(tmp_path)
    relative = _recipe(tmp_path, "data.source=image_folder", "data.path=shapes", "study.mode=one_at_a_time",
                       techniques, "training.epochs=1")
    assert run_study(relative, resume=run_dir, notify=_quiet) == run_dir  # type: ignore[arg-type]
    assert (run_dir / "plus-l2" / "metrics.json").is_file()


def test_a_diverging_variant_fails_alone_and_every_json_file_is_strict(tmp_path: Path) -> None:
    lines: list[str] = []
    recipe = _recipe(tmp_path, "study.mode=one_at_a_time", "training.epochs=2",
                     "study.techniques={hot: {training.lr: 1.0e10, training.optimizer: sgd}}")
    run_dir = run_study(recipe, notify=lines.append)  # type: ignore[arg-type]
    failed = [line for line in lines if "+hot: FAILED" in line]
    assert len(failed) == 1 and "the study goes on without it" in failed[0]
    failure = json.loads((run_dir / "plus-hot" / "failure.json").read_text())
    assert failure["variant"] == "+hot" and failure["epoch"] == 1 and failure["lr"] == 1e10
    assert failure["reason"].startswith(f"the training loss became NaN or infinite at epoch 1, batch "
                                        f"{failure['batch']} (lr 1e+10)") and failure["batch"] >= 1
    assert not (run_dir / "plus-hot" / "metrics.json").exists()
    assert not (run_dir / "plus-hot" / "checkpoints" / "last.ckpt").exists()
    assert (run_dir / "base" / "metrics.json").is_file()

    def no_constants(name: str) -> None:
        raise AssertionError(f"bare {name} in a JSON file")

    for path in run_dir.rglob("*.json"):
        json.loads(path.read_text(), parse_constant=no_constants)
    markdown = (run_dir / "report.md").read_text()
    assert "| +hot | hot | failed: the training loss became NaN or infinite at epoch 1" in markdown
    assert "**failed**: the training loss became NaN" in markdown
    # a resume does not train the failed variant again (it would diverge the same way)
    again: list[str] = []
    run_study(recipe, resume=run_dir, notify=again.append)  # type: ignore[arg-type]
    assert any("+hot: failed in an earlier session, skipped" in line for line in again)


@pytest.mark.skipif(sys.platform != "linux", reason="signals to a child process are exercised on Linux")
def test_ctrl_c_prints_the_command_that_finishes_the_study(tmp_path: Path) -> None:
    """A real SIGINT in the middle of training: one line with the exact --resume command, exit 130; that command
    then finishes the study from the last finished epoch."""
    trainlab = str(Path(sys.executable).with_name("trainlab"))
    command = [trainlab, "run", "digits-demo", "--out", str(tmp_path / "runs"), "--set", "study.mode=single",
               "--set", "study.baselines=[]", "--set", "training.epochs=6", "--set", f"output.cache_dir={tmp_path}/c"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    for line in process.stdout:
        if "base: training" in line:
            break
    run_dir = next((tmp_path / "runs" / "digits-demo").iterdir())
    deadline = time.monotonic() + 120
    while not (run_dir / "base" / "checkpoints" / "last.ckpt").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # interrupt once an epoch has finished, so there is something to continue from
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    (line,) = stderr.strip().splitlines()
    prefix = f"interrupted: the finished runs are kept in {run_dir}; continue with: "
    assert line.startswith(prefix), line
    again = shlex.split(line.removeprefix(prefix))
    assert again[:3] == ["trainlab", "run", "digits-demo"] and again[-2:] == ["--resume", str(run_dir)]
    finished = subprocess.run([trainlab, *again[1:]], capture_output=True, text=True, env=env, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert "base: continuing from its last finished epoch" in finished.stdout
    history = (run_dir / "base" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 6 and (run_dir / "report.html").is_file()
