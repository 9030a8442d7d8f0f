"""Conv / pool / transposed-conv output sizes and conv parameter counts: the course numbers, torch, and user errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from trainlab.calc.shapes import (
    Volume,
    conv2d_output,
    conv2d_params,
    conv_output_size,
    conv_transpose2d_output,
    conv_transpose2d_params,
    parse_pair,
    parse_volume,
    pool2d_output,
)
from trainlab.errors import TrainlabError

FEW = settings(max_examples=40, deadline=None)


def torch_out(module: nn.Module, volume: Volume) -> Volume | None:
    """The module's W×H×C output on one zero sample of ``volume``, or None when torch refuses the configuration or
    returns an empty map (ConvTranspose2d with too much padding gives a 0-wide output; the calculator refuses it)."""
    try:
        with torch.no_grad():
            out = module(torch.zeros(1, *volume.torch_shape))
    except RuntimeError:
        return None
    _, channels, height, width = out.shape
    if out.numel() == 0:
        return None
    return Volume(width, height, channels)


def ours(compute, *args, **kwargs) -> Volume | None:
    try:
        return compute(*args, **kwargs)
    except TrainlabError:
        return None


def test_course_example() -> None:
    volume = parse_volume("32x28x3")
    assert (volume.width, volume.height, volume.channels) == (32, 28, 3)
    out = conv2d_output(volume, filters=10, kernel=5, stride=1, padding=0)
    assert str(out) == "28×24×10"
    assert conv2d_params(3, 10, 5) == 760
    assert str(conv2d_output(volume, 10, 5, padding=1)) == "30×26×10"
    assert conv2d_params(1, 10, 5) == 260  # grayscale
    assert conv2d_params(3, 10, 5, bias=False) == 750


def test_pool_and_transpose_examples() -> None:
    assert str(pool2d_output(parse_volume("28x24x10"), kernel=2, stride=2)) == "14×12×10"
    assert str(pool2d_output(parse_volume("28x24x10"), kernel=2)) == "14×12×10"  # stride defaults to the kernel
    assert str(pool2d_output(parse_volume("28x24x10"), kernel=2, kind="avg")) == "14×12×10"
    assert str(conv_transpose2d_output(parse_volume("14x12x10"), filters=3, kernel=2, stride=2)) == "28×24×3"
    assert conv_transpose2d_params(10, 3, 2) == 10 * 3 * 2 * 2 + 3


def test_pairs_are_height_then_width() -> None:
    out = conv2d_output(Volume(width=32, height=28, channels=3), 4, kernel=(3, 5), stride=(1, 2), padding=(1, 0))
    module = nn.Conv2d(3, 4, kernel_size=(3, 5), stride=(1, 2), padding=(1, 0))
    assert out == torch_out(module, Volume(32, 28, 3))
    assert conv2d_params(3, 4, (3, 5)) == sum(p.numel() for p in module.parameters())


@FEW
@given(size=st.integers(1, 12), kernel=st.integers(1, 6), stride=st.integers(1, 3), padding=st.integers(0, 3),
       dilation=st.integers(1, 3), channels=st.integers(1, 3), groups=st.sampled_from([1, 2]))
def test_conv_matches_torch(size: int, kernel: int, stride: int, padding: int, dilation: int, channels: int,
                            groups: int) -> None:
    volume = Volume(size + 1, size, channels * groups)
    module = nn.Conv2d(channels * groups, 2 * groups, kernel, stride, padding, dilation, groups=groups)
    assert ours(conv2d_output, volume, 2 * groups, kernel, stride, padding, dilation) == torch_out(module, volume)
    assert conv2d_params(channels * groups, 2 * groups, kernel, groups=groups) == sum(
        p.numel() for p in module.parameters())


@FEW
@given(size=st.integers(1, 12), kernel=st.integers(1, 5), stride=st.integers(1, 3), padding=st.integers(0, 3),
       dilation=st.integers(1, 2), ceil_mode=st.booleans())
def test_max_pool_matches_torch(size: int, kernel: int, stride: int, padding: int, dilation: int,
                                ceil_mode: bool) -> None:
    volume = Volume(size, size + 2, 2)
    module = nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    assert ours(pool2d_output, volume, kernel, stride, padding, dilation, ceil_mode) == torch_out(module, volume)


@FEW
@given(size=st.integers(1, 12), kernel=st.integers(1, 5), stride=st.integers(1, 3), padding=st.integers(0, 3),
       ceil_mode=st.booleans())
def test_avg_pool_matches_torch(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> None:
    volume = Volume(size + 1, size, 2)
    module = nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil_mode)
    assert ours(pool2d_output, volume, kernel, stride, padding, 1, ceil_mode, "avg") == torch_out(module, volume)


@FEW
@given(size=st.integers(1, 8), kernel=st.integers(1, 4), stride=st.integers(1, 3), padding=st.integers(0, 3),
       output_padding=st.integers(0, 2), dilation=st.integers(1, 2))
def test_conv_transpose_matches_torch(size: int, kernel: int, stride: int, padding: int, output_padding: int,
                                      dilation: int) -> None:
    volume = Volume(size, size + 1, 3)
    try:
        module = nn.ConvTranspose2d(3, 2, kernel, stride, padding, output_padding, dilation=dilation)
    except ValueError:  # torch checks output_padding at forward time in some versions, at init in others
        assert ours(conv_transpose2d_output, volume, 2, kernel, stride, padding, output_padding, dilation) is None
        return
    expected = torch_out(module, volume)
    assert ours(conv_transpose2d_output, volume, 2, kernel, stride, padding, output_padding, dilation) == expected
    assert conv_transpose2d_params(3, 2, kernel) == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("32x28", "malformed: expected WxHxC with positive integers"),
        ("32x28x3x1", "malformed"),
        ("axbx3", "malformed"),
        ("32x28x0", "size <= 0"),
        ("-32x28x3", "size <= 0"),
        ("", "malformed"),
    ],
)
def test_malformed_input(text: str, message: str) -> None:
    with pytest.raises(TrainlabError, match=message) as caught:
        parse_volume(text)
    assert repr(text) in str(caught.value)


def test_input_separators() -> None:
    assert parse_volume(" 32 × 28 X 3 ") == Volume(32, 28, 3)
    assert parse_pair("5", "--kernel") == 5
    assert parse_pair("(3, 5)", "--kernel") == (3, 5)
    with pytest.raises(TrainlabError, match="--kernel '3,a' is malformed"):
        parse_pair("3,a", "--kernel")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kernel": 5, "stride": 0}, "stride must be a positive integer, got 0"),
        ({"kernel": 5, "padding": -1}, "padding must be an integer >= 0, got -1"),
        ({"kernel": 0}, "kernel must be a positive integer, got 0"),
        ({"kernel": 9}, "kernel 9 is larger than the padded input height 8"),
        ({"kernel": 3, "dilation": 4}, r"kernel 3 \(dilated to 9\) is larger than the padded input height 8"),
        ({"kernel": (3, 3, 3)}, "an int or an \\(h, w\\) pair"),
        ({"kernel": 2.5}, "kernel must be an integer, got 2.5"),
    ],
)
def test_conv_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(TrainlabError, match=message):
        conv2d_output(Volume(10, 8, 3), 4, **kwargs)


def test_other_errors() -> None:
    with pytest.raises(TrainlabError, match="input width must be a positive integer, got 0"):
        Volume(0, 5, 3)
    with pytest.raises(TrainlabError, match="filters must be a positive integer, got -2"):
        conv2d_output(Volume(5, 5, 3), -2, 3)
    with pytest.raises(TrainlabError, match="at most half the kernel"):
        pool2d_output(Volume(8, 8, 1), 2, padding=2)
    with pytest.raises(TrainlabError, match="AvgPool2d has no dilation"):
        pool2d_output(Volume(8, 8, 1), 2, dilation=2, kind="avg")
    with pytest.raises(TrainlabError, match="must be 'max' or 'avg'"):
        pool2d_output(Volume(8, 8, 1), 2, kind="min")  # type: ignore[arg-type]
    with pytest.raises(TrainlabError, match="output_padding height 2 must be smaller than the stride"):
        conv_transpose2d_output(Volume(8, 8, 1), 2, 3, stride=2, output_padding=2)
    with pytest.raises(TrainlabError, match="too large"):
        conv_transpose2d_output(Volume(1, 1, 1), 2, 1, padding=1)
    with pytest.raises(TrainlabError, match="groups 2 must divide"):
        conv2d_params(3, 4, 3, groups=2)
    assert conv_output_size(7, 3, 2, 1) == 4
