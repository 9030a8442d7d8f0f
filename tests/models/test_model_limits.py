"""The limits of the common model arguments (validate.py), option names without data, and the memory check."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
import torch
from torch import nn

from trainlab.errors import TrainlabError
from trainlab.models import build_model, check_model_memory, check_model_options, forward_bytes, memory_limit
from trainlab.validate import MAX_IMAGE_SIZE, MAX_IN_CHANNELS, MAX_NUM_CLASSES, MAX_WIDTH, check_float, check_int

SMALL = {"in_channels": 1, "num_classes": 3, "image_size": 32, "width": 0.125}


def fails_with(message: str, *, whole: bool = True) -> Any:
    """``pytest.raises`` for a TrainlabError whose text is ``message`` (or starts with it when not ``whole``)."""
    return pytest.raises(TrainlabError, match="^" + re.escape(message) + ("$" if whole else ""))


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (0.5, {}, 0.5),
        (1, {}, 1.0),
        (0.0, {}, 0.0),  # both bounds included by default
        (4.0, {}, 4.0),
        (4.0, {"min_inclusive": False}, 4.0),
    ],
)
def test_check_float_accepts(value: object, kwargs: dict, expected: float) -> None:
    result = check_float("width", value, 0.0, 4.0, **kwargs)
    assert result == expected and isinstance(result, float)


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (math.nan, {}, "width must be a finite number, got nan"),
        (math.inf, {}, "width must be a finite number, got inf"),
        (-math.inf, {}, "width must be a finite number, got -inf"),
        (10**400, {}, "width must be a finite number, got inf"),
        (True, {}, "width must be a number, got True"),
        ("1", {}, "width must be a number, got '1'"),
        (None, {}, "width must be a number, got None"),
        (0.0, {"min_inclusive": False}, "width must be in (0, 4], got 0"),
        (4.0, {"max_inclusive": False}, "width must be in [0, 4), got 4"),
        (4.5, {}, "width must be in [0, 4], got 4.5"),
        (-1, {}, "width must be in [0, 4], got -1"),
    ],
)
def test_check_float_refuses(value: object, kwargs: dict, message: str) -> None:
    with fails_with(message):
        check_float("width", value, 0.0, 4.0, **kwargs)


def test_check_int_maximum_and_huge_values() -> None:
    assert check_int("n", 1024, 1, 1024) == 1024
    with fails_with("n must be at most 1,024, got 1,025"):
        check_int("n", 1025, 1, 1024)
    with fails_with("n must be a positive integer, got 0"):
        check_int("n", 0, 1, 1024)  # below the minimum: the message it always had
    # Python refuses to turn an int of more than 4,300 digits into text: the message gives its size instead.
    with fails_with("n must be at most 1,024, got a number of 5,001 digits"):
        check_int("n", 10**5000, 1, 1024)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": math.nan}, "width must be a finite number, got nan"),
        ({"width": math.inf}, "width must be a finite number, got inf"),
        ({"width": 1000.0}, "width must be in (0, 4], got 1000"),
        ({"width": MAX_WIDTH + 0.01}, "width must be in (0, 4], got 4.01"),
        ({"width": 0.0}, "width must be in (0, 4], got 0"),
        ({"width": True}, "width must be a number, got True"),
        ({"dropout": math.nan}, "dropout must be a finite number, got nan"),
        ({"dropout": 1.0}, "dropout must be in [0, 1), got 1"),
        ({"dropout": -0.1}, "dropout must be in [0, 1), got -0.1"),
        ({"image_size": 100_000}, "image_size must be at most 1,024, got 100,000"),
        ({"image_size": MAX_IMAGE_SIZE + 1}, "image_size must be at most 1,024, got 1,025"),
        ({"in_channels": MAX_IN_CHANNELS + 1}, "in_channels must be at most 1,024, got 1,025"),
        ({"num_classes": MAX_NUM_CLASSES + 1}, "num_classes must be at most 1,000,000, got 1,000,001"),
        ({"num_classes": 10**20}, "num_classes must be at most 1,000,000, got 100,000,000,000,000,000,000"),
    ],
)
def test_build_model_limits(kwargs: dict, message: str) -> None:
    with fails_with(message):
        build_model("vgg13", **(SMALL | kwargs))


def test_the_limits_themselves_are_accepted() -> None:
    with torch.device("meta"):  # shapes only: a 1024² VGG-13 at width 4 would not fit in memory
        model = build_model("vgg13", in_channels=3, num_classes=3, image_size=MAX_IMAGE_SIZE, width=MAX_WIDTH)
    assert model.features[0].out_channels == 256  # 64 · 4
    assert model.classifier[0].in_features == 2048 * 32 * 32  # 512 · 4 channels, 1024 / 2⁵ pixels per side


def test_check_model_options_without_data() -> None:
    check_model_options("vgg13", {"batch_norm": True, "hidden": [16], "pool_last": False})
    check_model_options("resnet18", {})
    with pytest.raises(TrainlabError, match=r"^unknown model 'alexnet'.*vgg13"):
        check_model_options("alexnet", {})
    with fails_with("model 'resnet18' has no option 'batch_norm'; its options: weights, freeze, backbone_lr_scale"):
        check_model_options("resnet18", {"batch_norm": True})
    with fails_with("model 'vgg13' has no option 'hiden'; its options: batch_norm, hidden, pool_last, weights, freeze, "
                    "backbone_lr_scale"):
        check_model_options("vgg13", {"hiden": [64]})
    with fails_with("model 'vgg13': 'width' is a common argument, not an option; set it directly"):
        check_model_options("vgg13", {"width": 2})


def test_build_model_uses_the_option_check() -> None:
    with pytest.raises(TrainlabError, match="'dropout' is a common argument"):
        build_model("vgg13", **SMALL, options={"dropout": 0.5})


def test_forward_bytes_counts_parameters_input_and_outputs() -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    # 3·4 + 4 parameters, an input of 3 and two outputs of 4 floats, 4 bytes each
    assert forward_bytes(model, (1, 3)) == 4 * (16 + 3 + 4 + 4)
    assert model.training  # the mode is put back


def test_check_model_memory_refuses_before_allocating() -> None:
    small = check_model_memory("vgg13", **SMALL)
    real = build_model("vgg13", **SMALL)
    assert small == forward_bytes(real, (1, 1, 32, 32), device="cpu")  # the meta estimate is the real count
    assert small > 4 * sum(p.numel() for p in real.parameters())
    with fails_with("model 'vgg13' at width 4, image_size 1024, 3 input channel(s) and 3 classes has 34,778,679,555 "
                    "parameters and needs about 137.7 GiB for one image, more than the", whole=False):
        check_model_memory("vgg13", in_channels=3, num_classes=3, image_size=1024, width=4.0)
    with pytest.raises(TrainlabError, match=r"more than the 0.0 GiB allowed \(the limit\)"):
        check_model_memory("vgg13", **SMALL, limit_bytes=small - 1)
    limit = memory_limit()
    assert limit is None or limit > 2**20


def test_vgg_hidden_sizes_are_bounded() -> None:
    with pytest.raises(TrainlabError, match=r"option 'hidden' must be a list of integers from 1 to 1,048,576, got "
                                            r"\[99999999999999999999\]"):
        build_model("vgg13", in_channels=1, num_classes=2, image_size=32, width=0.125,
                    options={"hidden": [99999999999999999999]})
