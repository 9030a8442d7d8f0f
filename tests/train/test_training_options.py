"""Training options of the fast recipes: label smoothing, the one-cycle schedule and flip test-time augmentation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from trainlab.config import RegularizationConfig, TrainingConfig, load_recipe
from trainlab.errors import TrainlabError
from trainlab.models import build_model
from trainlab.train.inputs import InputAdapter
from trainlab.train.optim import build_optimizer, build_scheduler
from trainlab.train.study import run_study
from trainlab.train.task import ClassificationModule


def _quiet(_: str) -> None:
    pass


def _module(**training: object) -> ClassificationModule:
    torch.manual_seed(0)
    model = build_model("resnet18", in_channels=3, num_classes=3, image_size=16, width=0.125)
    return ClassificationModule(model, InputAdapter(), classes=["a", "b", "c"], training=TrainingConfig(**training),
                                regularization=RegularizationConfig())


def test_flip_tta_is_the_mean_of_the_two_views_in_evaluation_only() -> None:
    module = _module(tta="hflip").eval()
    batch = {"x": torch.randn(4, 3, 16, 16), "y": torch.tensor([0, 1, 2, 0])}
    with torch.no_grad():
        loss, outputs = module.loss_and_outputs(batch)
        plain = torch.softmax(module.model(batch["x"]), dim=1)
        mirrored = torch.softmax(module.model(torch.flip(batch["x"], dims=(-1,))), dim=1)
    mean = (plain + mirrored) / 2
    assert torch.allclose(torch.softmax(outputs, dim=1), mean, atol=1e-6)
    assert loss.item() == pytest.approx(F.nll_loss(mean.log(), batch["y"]).item(), abs=1e-6)
    module.train()
    _, trained_outputs = module.loss_and_outputs(batch)  # training sees one view: the augmentation does the rest
    assert trained_outputs.shape == (4, 3) and not torch.allclose(torch.softmax(trained_outputs, dim=1), mean)


def test_label_smoothing_reaches_the_loss() -> None:
    module = _module(label_smoothing=0.1).eval()
    batch = {"x": torch.randn(4, 3, 16, 16), "y": torch.tensor([0, 1, 2, 0])}
    with torch.no_grad():
        loss, logits = module.loss_and_outputs(batch)
    assert loss.item() == pytest.approx(F.cross_entropy(logits, batch["y"], label_smoothing=0.1).item())
    assert loss.item() != pytest.approx(F.cross_entropy(logits, batch["y"]).item())


def test_one_cycle_warms_up_then_decays_and_keeps_each_group_s_rate() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    model[0].lr_scale = 0.1  # a pretrained layer at a tenth of the rate
    training = TrainingConfig(optimizer="sgd", lr=0.4, scheduler="onecycle", warmup=0.25)
    optimizer = build_optimizer(model, training, weight_decay=0.0)
    scheduler = build_scheduler(optimizer, training, total_steps=100)
    rates = []
    for _ in range(100):
        rates.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    full = [row[0] for row in rates]
    # the peak is reached after a quarter of the steps (torch counts the warm-up as pct_start · total − 1 steps)
    assert full[0] == pytest.approx(0.4 / 25) and max(full) == pytest.approx(0.4) and full.index(max(full)) == 24
    assert full[-1] < 1e-3
    slow = [row[2] for row in rates]  # the lr_scale groups come after the full-rate pair
    assert max(slow) == pytest.approx(0.04)


def test_a_one_cycle_run_with_tta_and_smoothing_trains_and_steps_per_batch(tmp_path: Path) -> None:
    recipe = load_recipe("digits-demo", [
        "study.mode=single", "training.epochs=2", "training.progress_bar=false", "study.baselines=[]",
        "training.scheduler=onecycle", "training.tta=hflip", "training.label_smoothing=0.1",
        f"output.dir={tmp_path}", f"output.cache_dir={tmp_path / 'cache'}"])
    run = run_study(recipe, notify=_quiet)
    history = pd.read_csv(run / "base" / "history.csv")
    lr = recipe.training.lr
    assert history["lr"].iloc[0] == pytest.approx(lr / 25)  # the first epoch starts at the bottom of the warm-up
    assert lr / 25 < history["lr"].iloc[1] <= lr  # the second starts past it: the rate moved every batch
    assert json.loads((run / "base" / "metrics.json").read_text())["test"]["accuracy"] > 0.3


def test_tta_and_label_smoothing_are_refused_where_they_mean_nothing(tmp_path: Path) -> None:
    options = [f"output.dir={tmp_path}", f"output.cache_dir={tmp_path / 'cache'}", "study.mode=single",
               "study.repeats=1"]
    with pytest.raises(TrainlabError, match=r"training.tta='hflip' mirrors images, but data.source='co2' gives "
                                            r"time-series windows; set training.tta: none"):
        run_study(load_recipe("forecast-demo", [*options, "training.tta=hflip"]), notify=_quiet)
    with pytest.raises(TrainlabError, match=r"training.label_smoothing smooths class targets; task 'regression'"):
        run_study(load_recipe("forecast-demo", [*options, "training.label_smoothing=0.1"]), notify=_quiet)
    assert not list(tmp_path.glob("forecast-demo*"))


def test_the_fast_cpu_recipe_trains_a_few_steps(tmp_path: Path) -> None:
    """cnn-fast-cpu as written (one-cycle, smoothing, flip TTA, crop + flip) on a tiny folder of three classes."""
    rng = np.random.default_rng(0)
    for name, colour in (("dogs", (200, 60, 60)), ("food", (60, 200, 60)), ("vehicles", (60, 60, 200))):
        (tmp_path / "images" / name).mkdir(parents=True)
        for index in range(10):
            pixels = np.clip(np.array(colour) + rng.integers(-40, 40, size=(40, 40, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{index}.png")
    recipe = load_recipe("cnn-fast-cpu", [
        f"data.path={tmp_path / 'images'}", "data.image_size=32", "training.epochs=2", "study.repeats=1",
        "training.progress_bar=false", f"output.dir={tmp_path / 'runs'}", f"output.cache_dir={tmp_path / 'cache'}"])
    training = recipe.training
    assert (training.scheduler, training.tta, training.label_smoothing) == ("onecycle", "hflip", 0.1)
    run = run_study(recipe, notify=_quiet)
    metrics = json.loads((run / "base" / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and 0.0 <= metrics["test"]["accuracy"] <= 1.0
