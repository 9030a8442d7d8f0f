"""``trainlab style`` end to end on tiny settings: the files it writes, the demo, and one-line user errors."""

from __future__ import annotations

import csv
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from style_helpers import TINY, vgg_state
from typer.testing import CliRunner

from trainlab.cli import app
from trainlab.style import features as features_module
from trainlab.style.features import load_feature_net

runner = CliRunner()
TINY_RUN = ["--size", "32", "--steps", "3", "--device", "cpu"]
WRITTEN = {"result.png", "panel.png", "losses.csv", "losses.png", "settings.json", "report.html", "report.md"}


def _only_folder(parent: Path) -> Path:
    folders = list(parent.iterdir())
    assert len(folders) == 1, folders
    return folders[0]


def test_style_writes_the_result_and_the_report(tmp_path: Path, tiny_weights: Path,
                                                picture: Callable[..., Path]) -> None:
    content, style = picture("me.png", size=(48, 36)), picture("texture.jpg", size=(40, 40), seed=1)
    result = runner.invoke(app, ["style", "--content", str(content), "--style", str(style), "--weights",
                                 str(tiny_weights), "--optimizer", "adam", "--out", str(tmp_path / "out"), *TINY_RUN])
    assert result.exit_code == 0, result.output
    folder = _only_folder(tmp_path / "out")
    assert {path.name for path in folder.iterdir()} == WRITTEN
    assert "me.png (content) + texture.jpg (style), 3 Adam steps at 32 px on cpu" in result.output
    assert f"result: {folder / 'result.png'}" in result.output and "total loss " in result.output
    rows = list(csv.DictReader((folder / "losses.csv").open(encoding="utf-8")))
    assert [row["step"] for row in rows] == ["0", "1", "2", "3"]
    assert list(rows[0]) == ["step", "content", "style", "tv", "total", "seconds"]
    html, markdown = (folder / "report.html").read_text("utf-8"), (folder / "report.md").read_text("utf-8")
    assert html.count("data:image/png;base64,") == 2 and "Style transfer: me.png + texture.jpg" in html
    assert "![content, style and result side by side](panel.png)" in markdown
    assert "VGG-11 features (width 0.0625)" in markdown and "| `--optimizer` | adam |" in markdown
    record = json.loads((folder / "settings.json").read_text("utf-8"))
    assert record["settings"]["lr"] == 0.02 and record["run"]["image_size"] == [32, 24]
    assert record["losses"]["total"]["end"] < record["losses"]["total"]["start"]


def test_the_demo_runs_on_the_packaged_net(tmp_path: Path, tiny_asset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features_module, "demo_weights_path", lambda: tiny_asset)
    result = runner.invoke(app, ["style", "--out", str(tmp_path), *TINY_RUN])
    assert result.exit_code == 0, result.output
    assert "chelsea (content) + brick (style), 3 L-BFGS steps" in result.output
    assert "packaged demo net vgg13_bn_w0.25_course.pt (a test run; tiny)" in result.output
    assert {path.name for path in _only_folder(tmp_path).iterdir()} == WRITTEN


def test_every_demo_pair_gets_a_folder(tmp_path: Path, tiny_weights: Path) -> None:
    result = runner.invoke(app, ["style", "--demo", "all", "--weights", str(tiny_weights), "--out", str(tmp_path),
                                 "--size", "32", "--steps", "1", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    folder = _only_folder(tmp_path)
    assert sorted(path.name for path in folder.iterdir()) == ["astronaut-grass", "chelsea-brick", "coffee-gravel"]
    assert (folder / "coffee-gravel" / "report.html").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--content", "nowhere.png", "--style", "skimage:brick"], "content image nowhere.png does not exist"),
        (["--content", "skimage:chelsea"], "--style is missing: pass both --content and --style"),
        (["--demo", "cat-dog"], "--demo 'cat-dog' is not a demo pair; choose chelsea-brick"),
        (["--demo", "all", "--content", "skimage:coffee", "--style", "skimage:grass"], "leave it out"),
        (["--style-layers", "conv1_1=abc"], "--style-layers: 'conv1_1=abc' is not NAME=WEIGHT"),
        (["--content-layer", "conv9_1"], "layer 'conv9_1' is not in this feature net"),
        (["--size", "4"], "--size must be an integer >= 16"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(tmp_path: Path, tiny_weights: Path, args: list[str],
                                             message: str) -> None:
    result = runner.invoke(app, ["style", "--weights", str(tiny_weights), "--out", str(tmp_path / "out"),
                                 *TINY_RUN, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # no empty output folder is left behind


def test_no_packaged_net_says_what_to_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features_module, "demo_weights_path", lambda: None)
    result = runner.invoke(app, ["style", "--content", "skimage:coffee", "--style", "skimage:gravel",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2 and "are not installed; pass --weights" in result.output
    assert "torchvision:vgg19" in result.output


def test_an_out_path_that_is_a_file_is_refused(tmp_path: Path, tiny_weights: Path) -> None:
    (tmp_path / "taken").write_text("", encoding="utf-8")
    result = runner.invoke(app, ["style", "--weights", str(tiny_weights), "--out", str(tmp_path / "taken"),
                                 *TINY_RUN])
    assert result.exit_code == 2 and "--out" in result.output and "is a file" in result.output


def _fake_vgg_run(folder: Path) -> Path:
    """A trainlab variant folder as read_weights reads it: input.json, config.yaml and checkpoints/final.ckpt."""
    (folder / "checkpoints").mkdir(parents=True)
    state = {f"model.{key}": value for key, value in vgg_state("vgg11", batch_norm=True).items()}
    state |= {"model.classifier.0.weight": torch.zeros(3, 32), "model.classifier.0.bias": torch.zeros(3)}
    torch.save({"state_dict": state, "epoch": 3}, folder / "checkpoints" / "final.ckpt")
    (folder / "input.json").write_text(json.dumps({"task": "classification", "classes": ["a", "b", "c"], "input": {},
                                                   "normalize": {"mean": [0.4, 0.5, 0.6], "std": [0.2, 0.3, 0.25]}}))
    (folder / "config.yaml").write_text(yaml.safe_dump({"model": {"name": "vgg11", "width": TINY,
                                                                  "options": {"batch_norm": True}}}))
    return folder


def test_make_style_weights_keeps_the_features_and_the_normalization(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "make-style-weights.py"
    spec = importlib.util.spec_from_file_location("make_style_weights", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run, out = _fake_vgg_run(tmp_path / "run" / "base"), tmp_path / "assets" / "net.pt"
    assert module.main([str(run), str(out), "--notes", "course images"]) == 0
    saved = torch.load(out, weights_only=True)
    assert set(saved) == {"state_dict"} and all(key.startswith("features.") for key in saved["state_dict"])
    sidecar = json.loads(out.with_suffix(".json").read_text("utf-8"))
    assert sidecar["mean"] == [0.4, 0.5, 0.6] and sidecar["model"]["width"] == TINY
    net = load_feature_net(str(out))
    assert net.mean.flatten().tolist() == pytest.approx([0.4, 0.5, 0.6]) and "course images" in net.source
    assert net.description == "VGG-11 features (width 0.0625, BatchNorm)"


def test_the_default_weights_follow_the_feature_net(tmp_path: Path, tiny_weights: Path,
                                                    picture: Callable[..., Path]) -> None:
    """The packaged net's tuned defaults (content conv2_2, style 1e4); the paper's for --weights (conv4_2, 1e6)."""
    assert features_module.demo_weights_path() is not None  # the real packaged asset ships with the package
    packaged = runner.invoke(app, ["style", "--out", str(tmp_path / "packaged"), *TINY_RUN])
    assert packaged.exit_code == 0, packaged.output
    settings = json.loads((_only_folder(tmp_path / "packaged") / "settings.json").read_text("utf-8"))["settings"]
    assert settings["style_weight"] == 1e4 and settings["content_layers"] == ["conv2_2"]
    content, style = picture("a.png", size=(40, 40)), picture("b.png", size=(40, 40), seed=2)
    given = runner.invoke(app, ["style", "--content", str(content), "--style", str(style), "--weights",
                                str(tiny_weights), "--out", str(tmp_path / "given"), *TINY_RUN])
    assert given.exit_code == 0, given.output
    settings = json.loads((_only_folder(tmp_path / "given") / "settings.json").read_text("utf-8"))["settings"]
    assert settings["style_weight"] == 1e6 and settings["content_layers"] == ["conv4_2"]
