"""The optimization: the loss falls with both optimizers, the history adds up, runs repeat, inputs are checked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from trainlab.errors import TrainlabError
from trainlab.style.images import load_image
from trainlab.style.optimize import StyleSettings, stylize


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_the_total_loss_falls(tiny_settings: Callable[..., StyleSettings], optimizer: str) -> None:
    result = stylize(tiny_settings(optimizer=optimizer, steps=20))
    totals = [row.total for row in result.history]
    assert len(result.history) == 21 and [row.step for row in result.history] == list(range(21))
    assert totals[-1] < 0.5 * totals[0]
    assert result.image.shape == (1, 3, 21, 32)  # chelsea is 451×300: the longest side becomes 32
    assert result.image.min().item() >= 0.0 and result.image.max().item() <= 1.0


def test_the_history_terms_add_up(tiny_settings: Callable[..., StyleSettings]) -> None:
    result = stylize(tiny_settings(steps=3, tv_weight=10.0, content_weight=1e3))
    for row in result.history:
        assert row.total == pytest.approx(row.content + row.style + row.tv, rel=1e-5)
    assert result.history[0].content == 0.0  # init=content starts at the content image
    seconds = [row.seconds for row in result.history]
    assert seconds == sorted(seconds) and seconds[-1] <= result.seconds


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_run_repeats_exactly_on_the_cpu(tiny_settings: Callable[..., StyleSettings], optimizer: str) -> None:
    settings = tiny_settings(optimizer=optimizer, init="noise", seed=7, steps=5)
    first, second = stylize(settings), stylize(settings)
    assert torch.equal(first.image, second.image)
    other = stylize(tiny_settings(optimizer=optimizer, init="noise", seed=8, steps=5))
    assert not torch.equal(first.image, other.image)


def test_several_styles_blend(tiny_settings: Callable[..., StyleSettings]) -> None:
    result = stylize(tiny_settings(style=("skimage:brick", "skimage:grass"), steps=3))
    assert len(result.styles) == 2 and result.history[-1].total < result.history[0].total


def test_the_images_are_read_as_rgb_with_the_longest_side_at_size(picture: Callable[..., Path]) -> None:
    assert load_image(str(picture(size=(60, 30), mode="L")), "content", 40).shape == (1, 3, 20, 40)
    rgba = load_image(str(picture("a.png", size=(20, 50), mode="RGBA")), "style", 25)
    assert rgba.shape == (1, 3, 25, 10) and rgba.dtype == torch.float32 and rgba.max() <= 1.0


def test_a_missing_content_image_is_named(tiny_settings: Callable[..., StyleSettings], tmp_path: Path) -> None:
    with pytest.raises(TrainlabError, match=r"content image .*nowhere\.jpg does not exist"):
        stylize(tiny_settings(content=str(tmp_path / "nowhere.jpg")))


def test_a_text_file_as_style_is_named(tiny_settings: Callable[..., StyleSettings], tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a picture\n", encoding="utf-8")
    with pytest.raises(TrainlabError, match=r"style image .*notes\.txt cannot be read: not an image file"):
        stylize(tiny_settings(style=(str(text),)))


def test_an_unknown_layer_is_named_before_any_step(tiny_settings: Callable[..., StyleSettings]) -> None:
    with pytest.raises(TrainlabError, match=r"'conv5_4' is not in this feature net \(VGG-11"):
        stylize(tiny_settings(style_layers={"conv1_1": 1.0, "conv5_4": 1.0}))


def test_an_image_too_small_for_the_deepest_layer(tiny_settings: Callable[..., StyleSettings],
                                                  picture: Callable[..., Path]) -> None:
    thin = picture(size=(80, 10))
    with pytest.raises(TrainlabError, match=r"too small for layer relu5_1 after 4 pools; its short side needs 16 px"):
        stylize(tiny_settings(content=str(thin), size=64))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"size": 8}, "--size must be an integer >= 16, got 8"),
        ({"steps": 0}, "--steps must be a positive integer"),
        ({"optimizer": "sgd"}, "--optimizer must be one of lbfgs, adam, got 'sgd'"),
        ({"init": "zeros"}, "--init must be one of content, noise"),
        ({"device": "tpu"}, "--device must be one of auto, cpu, cuda"),
        ({"lr": 0.0}, r"--lr must be in \(0, 1000\]"),
        ({"style_weight": -1.0}, r"--style-weight must be in \[0, 1e\+15\]"),
        ({"tv_weight": float("nan")}, "--tv-weight must be a finite number"),
        ({"style_weight": 0.0, "content_weight": 0.0}, "nothing to optimize"),
        ({"style_layers": {"conv1": 1.0}}, "--style-layers: 'conv1' is not a VGG layer name"),
        ({"style_layers": {"conv1_1": 0.0}}, "every layer weight is 0"),
        ({"content_layers": ("fc7",)}, "--content-layer: 'fc7' is not a VGG layer name"),
        ({"content": "skimage:moon"}, "unknown bundled picture"),
    ],
)
def test_bad_settings_are_one_clear_error(tiny_settings: Callable[..., StyleSettings], overrides: dict[str, object],
                                          message: str) -> None:
    with pytest.raises(TrainlabError, match=message):
        stylize(tiny_settings(**overrides))


def test_cuda_without_a_gpu_is_refused(tiny_settings: Callable[..., StyleSettings],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(TrainlabError, match="--device cuda: PyTorch sees no CUDA GPU"):
        stylize(tiny_settings(device="cuda"))
