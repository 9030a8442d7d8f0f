"""The model layer: exact parameter counts, a tiny forward/backward for every registered model, and user errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlab.errors import TrainlabError
from trainlab.models import build_model, model_names, model_options


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("name", "in_channels", "image_size", "options", "expected"),
    [
        ("vgg13", 3, 64, {}, 34_591_299),
        ("vgg13", 1, 32, {"hidden": (4096, 4096, 1000), "pool_last": False}, 38_677_859),
        ("resnet18", 3, 32, {}, 11_178_051),
        ("resnet18", 1, 32, {}, 11_171_779),
    ],
)
def test_exact_parameter_counts(name: str, in_channels: int, image_size: int, options: dict, expected: int) -> None:
    model = build_model(name, in_channels=in_channels, num_classes=3, image_size=image_size, options=options)
    assert n_params(model) == expected


def _small_cases() -> list[tuple[str, int, dict]]:
    cases = []
    for name in model_names("image"):
        variants: list[dict] = [{}]
        if "batch_norm" in model_options(name):
            variants.append({"batch_norm": True})
        for in_channels in (3, 1):
            cases += [(name, in_channels, options) for options in variants]
    return cases


@pytest.mark.parametrize(("name", "in_channels", "options"), _small_cases())
def test_small_forward_backward_and_eval_determinism(name: str, in_channels: int, options: dict) -> None:
    torch.manual_seed(0)
    model = build_model(name, in_channels=in_channels, num_classes=3, image_size=32, width=0.125, options=options)
    x = torch.randn(2, in_channels, 32, 32)

    out = model(x)
    assert out.shape == (2, 3)
    assert torch.isfinite(out).all()
    out.sum().backward()
    for param_name, param in model.named_parameters():
        if param.requires_grad:
            assert param.grad is not None, param_name
            assert torch.isfinite(param.grad).all(), param_name

    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_width_multiplier_shrinks_vgg() -> None:
    full = build_model("vgg13", in_channels=3, num_classes=3, image_size=32)
    small = build_model("vgg13", in_channels=3, num_classes=3, image_size=32, width=0.125)
    assert n_params(small) < n_params(full)
    first_conv = next(m for m in small.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.out_channels == 8


def test_dropout_modules_follow_the_dropout_argument() -> None:
    with_dropout = build_model("vgg13", in_channels=3, num_classes=3, image_size=32, width=0.125, dropout=0.5)
    dropouts = [m for m in with_dropout.modules() if isinstance(m, nn.Dropout)]
    assert dropouts
    assert all(m.p == 0.5 for m in dropouts)
    without = build_model("vgg13", in_channels=3, num_classes=3, image_size=32, width=0.125, dropout=0.0)
    assert not any(isinstance(m, nn.Dropout) for m in without.modules())


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(TrainlabError) as info:
        build_model("alexnet", in_channels=3, num_classes=3, image_size=32)
    assert "vgg13" in str(info.value)
    assert "resnet18" in str(info.value)


def test_unknown_option_is_named() -> None:
    with pytest.raises(TrainlabError, match="batch_norm"):
        build_model("resnet18", in_channels=3, num_classes=3, image_size=32, options={"batch_norm": True})
    with pytest.raises(TrainlabError, match="hiden"):
        build_model("vgg13", in_channels=3, num_classes=3, image_size=32, options={"hiden": [64]})


def test_wrong_option_type() -> None:
    with pytest.raises(TrainlabError, match="hidden"):
        build_model("vgg13", in_channels=3, num_classes=3, image_size=32, width=0.125, options={"hidden": "4096"})
    with pytest.raises(TrainlabError, match="batch_norm"):
        build_model("vgg13", in_channels=3, num_classes=3, image_size=32, width=0.125, options={"batch_norm": "yes"})


def test_image_too_small_for_vgg() -> None:
    # five 2×2 pools need at least 32 pixels: 16 → 8 → 4 → 2 → 1 → 0
    with pytest.raises(TrainlabError, match=r"image_size.*32.*image_size=16"):
        build_model("vgg13", in_channels=3, num_classes=3, image_size=16, width=0.125)
    # without the fifth pool, 16 is enough (16 → 1 after four pools)
    model = build_model("vgg13", in_channels=3, num_classes=3, image_size=16, width=0.125, options={"pool_last": False})
    assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 3)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"num_classes": 1}, "num_classes must be an integer >= 2, got 1"),
        ({"num_classes": True}, "num_classes must be an integer, got True"),
        ({"in_channels": 0}, "in_channels must be a positive integer, got 0"),
        ({"image_size": 2.0}, "image_size must be an integer, got 2.0"),
        ({"dropout": 1.0}, "dropout"),
        ({"width": 0.0}, "width"),
    ],
)
def test_bad_common_arguments(kwargs: dict, needle: str) -> None:
    args = {"in_channels": 3, "num_classes": 3, "image_size": 32} | kwargs
    with pytest.raises(TrainlabError, match=needle):
        build_model("resnet18", **args)
