"""The transfer recipe end to end on a tiny train/ + val/ folder: fine-tune, frozen backbone and from scratch."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from trainlab.artifacts import evaluated_checkpoint
from trainlab.config import Recipe, load_recipe
from trainlab.errors import TrainlabError
from trainlab.models import build_model
from trainlab.train.study import run_study

WIDTH = 0.125
PRETRAINED_MEAN, PRETRAINED_STD = [0.25, 0.5, 0.75], [0.2, 0.3, 0.4]


def _quiet(_: str) -> None:
    pass


def _images(folder: Path, count: int, colour: tuple[int, int, int], seed: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        noise = rng.integers(-40, 40, size=(40, 40, 3))
        pixels = np.clip(np.array(colour)[None, None, :] + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{index}.png")


@pytest.fixture(scope="module")
def ants_and_bees(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hymenoptera")
    for split, count in (("train", 14), ("val", 5)):
        _images(root / split / "ants", count, (180, 60, 40), seed=len(split))
        _images(root / split / "bees", count, (60, 160, 200), seed=len(split) + 10)
    return root


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trainlab run folder as `trainlab pretrain` leaves it: checkpoint, config and the normalization it used."""
    torch.manual_seed(0)
    source = build_model("resnet18", in_channels=3, num_classes=3, image_size=32, width=WIDTH)
    for module in source.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    variant = tmp_path_factory.mktemp("pretrain") / "base"
    (variant / "checkpoints").mkdir(parents=True)
    state = {f"model.{key}": value for key, value in source.state_dict().items()}
    torch.save({"state_dict": state}, variant / "checkpoints" / "best.ckpt")
    (variant / "config.yaml").write_text(yaml.safe_dump({"model": {"name": "resnet18", "width": WIDTH}}))
    normalize = {"mean": PRETRAINED_MEAN, "std": PRETRAINED_STD}
    (variant / "input.json").write_text(json.dumps({"task": "classification", "classes": ["x", "y", "z"],
                                                    "input": {"kind": "image"}, "normalize": normalize}))
    return variant


def _recipe(tmp_path: Path, data: Path, *overrides: str) -> Recipe:
    return load_recipe("transfer", [
        f"data.path={data}", "data.image_size=32", f"model.width={WIDTH}", "training.epochs=2",
        "training.progress_bar=false", "study.repeats=1", "study.baselines=[majority]",
        f"output.dir={tmp_path / 'runs'}", f"output.cache_dir={tmp_path / 'cache'}", *overrides])


@pytest.fixture(scope="module")
def transfer_run(tmp_path_factory: pytest.TempPathFactory, ants_and_bees: Path, pretrained_run: Path) -> Path:
    tmp_path = tmp_path_factory.mktemp("transfer")
    recipe = _recipe(tmp_path, ants_and_bees, f"model.options.weights={pretrained_run}")
    return run_study(recipe, notify=_quiet)


def _weights(variant_dir: Path) -> dict[str, torch.Tensor]:
    state = torch.load(evaluated_checkpoint(variant_dir), map_location="cpu", weights_only=True)["state_dict"]
    return {key.removeprefix("model."): value for key, value in state.items() if key.startswith("model.")}


def test_the_val_folder_is_the_held_out_test_set(transfer_run: Path) -> None:
    data = json.loads((transfer_run / "study.json").read_text())["data"]
    assert data["counts"]["test"] == {"ants": 5, "bees": 5}  # the val/ folder, whole
    # val is carved from train/: 0.15 / (0.70 + 0.15) of its 28 images, stratified
    assert sum(data["counts"]["val"].values()) == 5 and sum(data["counts"]["train"].values()) == 23
    assert data["split_note"].startswith("test = the val/ folder, held out (there is no test folder)")
    assert "Splits: test = the val/ folder, held out" in (transfer_run / "report.md").read_text()


def test_freezing_keeps_the_backbone_bit_identical_and_trains_the_head(transfer_run: Path,
                                                                       pretrained_run: Path) -> None:
    pretrained = _weights(pretrained_run)
    frozen = _weights(transfer_run / "plus-frozen")
    backbone = [key for key in frozen if not key.startswith("fc.")]
    assert any(key.endswith("running_mean") for key in backbone)  # BatchNorm statistics are compared too
    for key in backbone:
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(frozen[key], pretrained[key]), key
    L.seed_everything(0, verbose=False)  # as fit_variant does before building the model: the head's initial weights
    initial = build_model("resnet18", in_channels=3, num_classes=2, image_size=32, width=WIDTH,
                          options={"weights": str(pretrained_run), "freeze": True})
    assert frozen["fc.weight"].shape == initial.fc.weight.shape == (2, 64)
    assert not torch.equal(frozen["fc.weight"], initial.fc.weight)  # the new head trained
    metrics = json.loads((transfer_run / "plus-frozen" / "metrics.json").read_text())
    assert metrics["trainable_params"] == 64 * 2 + 2 < metrics["params"]
    assert metrics["notes"]["training"] == "frozen"


def test_fine_tuning_moves_the_backbone_and_scratch_ignores_the_weights(transfer_run: Path,
                                                                       pretrained_run: Path) -> None:
    pretrained = _weights(pretrained_run)
    tuned = _weights(transfer_run / "base")
    assert not torch.equal(tuned["layer1.0.conv1.weight"], pretrained["layer1.0.conv1.weight"])
    base = json.loads((transfer_run / "base" / "metrics.json").read_text())
    assert base["trainable_params"] == base["params"] and base["notes"]["training"] == "fine-tuned at 0.1x lr"
    scratch = json.loads((transfer_run / "plus-from_scratch" / "metrics.json").read_text())
    assert scratch["notes"] == {}


def test_pretrained_variants_normalize_with_the_pretraining_statistics(transfer_run: Path) -> None:
    data = json.loads((transfer_run / "study.json").read_text())["data"]
    for folder in ("base", "plus-frozen"):
        recorded = json.loads((transfer_run / folder / "input.json").read_text())["normalize"]
        assert recorded["mean"] == pytest.approx(PRETRAINED_MEAN) and recorded["std"] == pytest.approx(PRETRAINED_STD)
    scratch = json.loads((transfer_run / "plus-from_scratch" / "input.json").read_text())["normalize"]
    assert scratch["mean"] == pytest.approx(data["mean"])  # no weights: the train split's own statistics
    report = (transfer_run / "report.md").read_text()
    assert "pretrained weights from trainlab run" in report and "the pretraining run's statistics" in report


def test_the_transfer_recipe_without_weights_fails_before_loading_data(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, tmp_path / "no-such-folder")
    with pytest.raises(TrainlabError, match=r"option 'backbone_lr_scale' needs pretrained weights: set "
                                            r"model.options.weights"):
        run_study(recipe, notify=_quiet)
    assert not (tmp_path / "runs").exists()


def test_weights_of_the_wrong_width_fail_before_loading_data(tmp_path: Path, pretrained_run: Path) -> None:
    recipe = _recipe(tmp_path, tmp_path / "no-such-folder", f"model.options.weights={pretrained_run}",
                     "model.width=0.25")
    with pytest.raises(TrainlabError, match=r"that run trained 'resnet18' at width 0.125"):
        run_study(recipe, notify=_quiet)


def test_the_report_sets_trainable_and_frozen_parameters_side_by_side(transfer_run: Path) -> None:
    metrics = json.loads((transfer_run / "plus-frozen" / "metrics.json").read_text())
    params, trainable = metrics["params"], metrics["trainable_params"]
    row = next(line for line in (transfer_run / "report.md").read_text().splitlines()
               if line.startswith("| +frozen | resnet18 |"))
    assert f"| {params:,} | {trainable:,} | {params - trainable:,} |" in row
