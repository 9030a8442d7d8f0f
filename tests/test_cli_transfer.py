"""``trainlab pretrain``: a run that is a weights source for the transfer recipe, and its one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from trainlab.cli import app
from trainlab.models import build_model
from trainlab.models.weights import read_weights

runner = CliRunner()
TINY = ["--set", "training.epochs=1", "--set", "model.width=0.125", "--set", "data.image_size=32",
        "--set", "training.progress_bar=false"]


@pytest.fixture
def two_classes(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for name, colour in (("red", (200, 40, 40)), ("blue", (40, 40, 200))):
        (tmp_path / "images" / name).mkdir(parents=True)
        for index in range(12):
            pixels = np.clip(np.array(colour) + rng.integers(-30, 30, size=(36, 36, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{index}.png")
    return tmp_path / "images"


def test_pretrain_prints_the_weights_option_and_the_run_is_a_weights_source(two_classes: Path,
                                                                           tmp_path: Path) -> None:
    result = runner.invoke(app, ["pretrain", "resnet18", "--data", str(two_classes), "--out", str(tmp_path / "runs"),
                                 *TINY])
    assert result.exit_code == 0, result.output
    match = re.search(r"--set model\.options\.weights=(\S+)", result.output)
    assert match and "pretrained weights:" in result.output
    weights = match.group(1)
    found = read_weights(weights)
    assert found.kind == "trainlab run" and found.model["name"] == "resnet18" and found.model["width"] == 0.125
    assert found.mean is not None and len(found.mean) == 3  # the pretraining split's statistics, from input.json
    model = build_model("resnet18", in_channels=3, num_classes=5, image_size=32, width=0.125,
                        options={"weights": weights, "freeze": True})
    assert model.input_normalization == (found.mean, found.std)


def test_pretrain_refuses_a_model_that_does_not_read_images(two_classes: Path) -> None:
    result = runner.invoke(app, ["pretrain", "lstm", "--data", str(two_classes)])
    assert result.exit_code == 2
    assert "pretrain trains image models; 'lstm' reads token sequences. Image models: resnet18" in result.output


def test_pretrain_names_an_unknown_model(two_classes: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["pretrain", "resnet50", "--data", str(two_classes), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "resnet50" in result.output and "resnet18" in result.output
