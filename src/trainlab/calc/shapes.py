"""Output sizes and parameter counts of 2-D convolution and pooling layers, with PyTorch's floor formulas.

A volume is written W×H×C (width × height × channels), as in the course; PyTorch tensors are (N, C, H, W). Every
``kernel``/``stride``/``padding``/``dilation`` accepts an int (the same for both axes) or an ``(h, w)`` pair, as
``nn.Conv2d`` does. Along one axis of size ``n`` with kernel ``k``, stride ``s``, padding ``p``, dilation ``d``::

    Conv2d, MaxPool2d:   out = ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1
    AvgPool2d:           out = ⌊(n + 2p − k) / s⌋ + 1                      (no dilation: d = 1)
    ConvTranspose2d:     out = (n − 1)·s − 2p + d·(k − 1) + output_padding + 1

Pools with ``ceil_mode`` round up instead, but drop a last window that would start inside the right padding; PyTorch
also asks a pool's padding to be at most ``⌊k / 2⌋``.
Parameters of a convolution with C input channels, F filters, a kh×kw kernel and ``groups`` g::

    Conv2d:           F·(C/g)·kh·kw + F        (the + F only with a bias)
    ConvTranspose2d:  C·(F/g)·kh·kw + F

Every user mistake (a size ≤ 0, a stride ≤ 0, a negative padding, a dilated kernel larger than the padded input, a
malformed ``WxHxC``) raises :class:`~trainlab.errors.TrainlabError` naming the bad value and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from trainlab import validate
from trainlab.errors import TrainlabError

IntOrPair = int | tuple[int, int]
PoolKind = Literal["max", "avg"]
AXES = ("height", "width")
MAX_SIZE = 10**12
"""The largest size, channel count, kernel, stride, padding or unit count a calculator takes. Products of a few such
numbers stay far below the 4,300 digits Python will turn into text."""


def check_int(name: str, value: object, minimum: int, maximum: int = MAX_SIZE) -> int:
    """:func:`trainlab.validate.check_int` with the calculators' :data:`MAX_SIZE` as the default maximum."""
    return validate.check_int(name, value, minimum, maximum)


def _integers(parts: list[str], text: str, what: str) -> list[int]:
    """Parts that matched ``[+-]?\\d+`` as ints; one too long for :data:`MAX_SIZE` is refused before ``int()``."""
    longest = max(len(part.lstrip("+-").lstrip("0")) for part in parts)
    if longest > len(str(MAX_SIZE)):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise TrainlabError(f"{what} {shown!r} holds a {longest}-digit number; expected at most {MAX_SIZE:,}")
    return [int(part) for part in parts]


def as_pair(name: str, value: object, minimum: int) -> tuple[int, int]:
    """An int or an ``(h, w)`` pair of ints ``>= minimum`` as an ``(h, w)`` tuple."""
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise TrainlabError(f"{name} must be an int or an (h, w) pair, got {value!r}")
        return check_int(f"{name} height", value[0], minimum), check_int(f"{name} width", value[1], minimum)
    number = check_int(name, value, minimum)
    return number, number


@dataclass(frozen=True)
class Volume:
    """A feature map of ``width × height × channels``; printed as ``28×24×10``."""

    width: int
    height: int
    channels: int

    def __post_init__(self) -> None:
        for name in ("width", "height", "channels"):
            check_int(f"input {name}", getattr(self, name), 1)

    def __str__(self) -> str:
        return f"{self.width}×{self.height}×{self.channels}"

    @property
    def torch_shape(self) -> tuple[int, int, int]:
        """The (C, H, W) shape of one sample in PyTorch."""
        return self.channels, self.height, self.width


def parse_volume(text: str, what: str = "--input") -> Volume:
    """``"32x28x3"`` (also ``×`` or ``X``) → ``Volume(width=32, height=28, channels=3)``."""
    parts = [part.strip() for part in re.split(r"[x×X]", text.strip())]
    expected = "expected WxHxC with positive integers, e.g. 32x28x3"
    if len(parts) != 3 or not all(re.fullmatch(r"[+-]?\d+", part) for part in parts):
        raise TrainlabError(f"{what} {text!r} is malformed: {expected}")
    width, height, channels = _integers(parts, text, what)
    if min(width, height, channels) <= 0:
        raise TrainlabError(f"{what} {text!r} has a size <= 0: {expected}")
    return Volume(width, height, channels)


def parse_pair(text: str, what: str) -> IntOrPair:
    """``"5"`` → 5 and ``"3,5"`` or ``"(3, 5)"`` → ``(3, 5)`` (height, width), for command-line options."""
    parts = [part.strip() for part in text.strip().strip("()").split(",")]
    if len(parts) not in (1, 2) or not all(re.fullmatch(r"[+-]?\d+", part) for part in parts):
        raise TrainlabError(f"{what} {text!r} is malformed: expected an integer or H,W, e.g. 5 or 3,5")
    numbers = _integers(parts, text, what)
    return numbers[0] if len(numbers) == 1 else (numbers[0], numbers[1])


def _fits(axis: str, size: int, kernel: int, padding: int, dilation: int) -> None:
    effective = dilation * (kernel - 1) + 1
    if effective > size + 2 * padding:
        dilated = f" (dilated to {effective})" if dilation != 1 else ""
        raise TrainlabError(
            f"kernel {kernel}{dilated} is larger than the padded input {axis} {size + 2 * padding} "
            f"({size} + 2·{padding}); expected a kernel of at most {size + 2 * padding}"
        )


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                     axis: str = "size") -> int:
    """One axis of Conv2d / MaxPool2d: ``⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1``."""
    check_int(f"input {axis}", size, 1)
    check_int(f"kernel {axis}", kernel, 1)
    check_int(f"stride {axis}", stride, 1)
    check_int(f"padding {axis}", padding, 0)
    check_int(f"dilation {axis}", dilation, 1)
    _fits(axis, size, kernel, padding, dilation)
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_output_size(size: int, kernel: int, stride: int, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False, axis: str = "size") -> int:
    """One axis of MaxPool2d (AvgPool2d: d = 1); with ``ceil_mode`` the division rounds up, as PyTorch does, and a
    window may hang over the input's edge so long as it starts inside it."""
    if not ceil_mode:
        out = conv_output_size(size, kernel, stride, padding, dilation, axis)
    else:
        for name, value, minimum in (("input", size, 1), ("kernel", kernel, 1), ("stride", stride, 1),
                                     ("padding", padding, 0), ("dilation", dilation, 1)):
            check_int(f"{name} {axis}", value, minimum)
        out = -(-(size + 2 * padding - dilation * (kernel - 1) - 1) // stride) + 1
        if (out - 1) * stride >= size + padding:  # the last window would start in the right padding
            out -= 1
        if out < 1:
            _fits(axis, size, kernel, padding, dilation)
            raise TrainlabError(f"the pool leaves no output along the {axis}")
    if padding > kernel // 2:
        raise TrainlabError(f"pool padding {axis} {padding} must be at most half the kernel {kernel} "
                            f"(<= {kernel // 2}), as PyTorch asks")
    return out


def conv_transpose_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0,
                               dilation: int = 1, axis: str = "size") -> int:
    """One axis of ConvTranspose2d: ``(n − 1)·s − 2p + d·(k − 1) + output_padding + 1``."""
    check_int(f"input {axis}", size, 1)
    check_int(f"kernel {axis}", kernel, 1)
    check_int(f"stride {axis}", stride, 1)
    check_int(f"padding {axis}", padding, 0)
    check_int(f"output_padding {axis}", output_padding, 0)
    check_int(f"dilation {axis}", dilation, 1)
    if output_padding >= max(stride, dilation):
        raise TrainlabError(
            f"output_padding {axis} {output_padding} must be smaller than the stride ({stride}) or the dilation "
            f"({dilation}), as PyTorch asks"
        )
    out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out <= 0:
        raise TrainlabError(f"padding {axis} {padding} is too large: the output {axis} would be {out}")
    return out


def conv_size_formula(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> str:
    """The Conv2d formula filled in, e.g. ``⌊(32 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1``."""
    return f"⌊({size} + 2·{padding} − {dilation}·({kernel} − 1) − 1) / {stride}⌋ + 1"


def conv_transpose_size_formula(size: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0,
                                dilation: int = 1) -> str:
    """The ConvTranspose2d formula filled in."""
    return f"({size} − 1)·{stride} − 2·{padding} + {dilation}·({kernel} − 1) + {output_padding} + 1"


def conv2d_output(volume: Volume, filters: int, kernel: IntOrPair, stride: IntOrPair = 1, padding: IntOrPair = 0,
                  dilation: IntOrPair = 1) -> Volume:
    """The W×H×C output of ``nn.Conv2d(C, filters, kernel, stride, padding, dilation)`` on ``volume``."""
    check_int("filters", filters, 1)
    k, s, p, d = _pairs(kernel, stride, padding, dilation)
    height, width = (conv_output_size((volume.height, volume.width)[i], k[i], s[i], p[i], d[i], AXES[i])
                     for i in range(2))
    return Volume(width, height, filters)


def pool2d_output(volume: Volume, kernel: IntOrPair, stride: IntOrPair | None = None, padding: IntOrPair = 0,
                  dilation: IntOrPair = 1, ceil_mode: bool = False, kind: PoolKind = "max") -> Volume:
    """The output of ``nn.MaxPool2d`` (``kind="max"``) or ``nn.AvgPool2d`` (``"avg"``); stride defaults to kernel."""
    if kind not in ("max", "avg"):
        raise TrainlabError(f"pool kind must be 'max' or 'avg', got {kind!r}")
    k, s, p, d = _pairs(kernel, kernel if stride is None else stride, padding, dilation)
    if kind == "avg" and d != (1, 1):
        raise TrainlabError(f"AvgPool2d has no dilation; expected 1, got {dilation!r}")
    height, width = (pool_output_size((volume.height, volume.width)[i], k[i], s[i], p[i], d[i], ceil_mode, AXES[i])
                     for i in range(2))
    return Volume(width, height, volume.channels)


def conv_transpose2d_output(volume: Volume, filters: int, kernel: IntOrPair, stride: IntOrPair = 1,
                            padding: IntOrPair = 0, output_padding: IntOrPair = 0,
                            dilation: IntOrPair = 1) -> Volume:
    """The W×H×C output of ``nn.ConvTranspose2d(C, filters, kernel, stride, padding, output_padding, ...)``."""
    check_int("filters", filters, 1)
    k, s, p, d = _pairs(kernel, stride, padding, dilation)
    op = as_pair("output_padding", output_padding, 0)
    height, width = (
        conv_transpose_output_size((volume.height, volume.width)[i], k[i], s[i], p[i], op[i], d[i], AXES[i])
        for i in range(2)
    )
    return Volume(width, height, filters)


def _pairs(kernel: object, stride: object, padding: object, dilation: object) -> tuple[tuple[int, int], ...]:
    return (as_pair("kernel", kernel, 1), as_pair("stride", stride, 1), as_pair("padding", padding, 0),
            as_pair("dilation", dilation, 1))


def _groups(in_channels: int, filters: int, groups: int) -> None:
    check_int("in_channels", in_channels, 1)
    check_int("filters", filters, 1)
    check_int("groups", groups, 1)
    if in_channels % groups or filters % groups:
        raise TrainlabError(f"groups {groups} must divide both in_channels {in_channels} and filters {filters}")


def conv2d_params(in_channels: int, filters: int, kernel: IntOrPair, bias: bool = True, groups: int = 1) -> int:
    """Parameters of ``nn.Conv2d`` / Keras ``Conv2D``: ``F·(C/g)·kh·kw`` weights ``+ F`` biases.

    The course example: ten 5×5 filters on 3 channels → 10·(5·5·3) + 10 = 760; on 1 channel → 260.
    """
    _groups(in_channels, filters, groups)
    kh, kw = as_pair("kernel", kernel, 1)
    return filters * (in_channels // groups) * kh * kw + (filters if bias else 0)


def conv_transpose2d_params(in_channels: int, filters: int, kernel: IntOrPair, bias: bool = True,
                            groups: int = 1) -> int:
    """Parameters of ``nn.ConvTranspose2d``: ``C·(F/g)·kh·kw`` weights ``+ F`` biases (weight is C×F/g×kh×kw)."""
    _groups(in_channels, filters, groups)
    kh, kw = as_pair("kernel", kernel, 1)
    return in_channels * (filters // groups) * kh * kw + (filters if bias else 0)


def conv_params_formula(in_channels: int, filters: int, kernel: IntOrPair, bias: bool = True,
                        groups: int = 1) -> str:
    """The Conv2d parameter formula filled in, e.g. ``10·(5·5·3) + 10``."""
    kh, kw = as_pair("kernel", kernel, 1)
    per_group = in_channels // groups if groups >= 1 else in_channels
    return f"{filters}·({kh}·{kw}·{per_group})" + (f" + {filters}" if bias else "")
