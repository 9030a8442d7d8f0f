"""VGG (Simonyan & Zisserman, 2014) as data plus one builder, in the style of torchvision.

A configuration is a list read left to right: an integer ``c`` is a 3×3 convolution (padding 1, so the spatial size is
kept) to ``c`` channels followed by ReLU — with BatchNorm2d between the two when ``batch_norm`` — and ``"M"`` is a 2×2
max-pool with stride 2 that halves the spatial size (rounding down). VGG-13 is five stages of two convolutions each::

    64 64 M | 128 128 M | 256 256 M | 512 512 M | 512 512 M

The classifier flattens the feature map and runs the ``hidden`` Linear layers (each followed by ReLU and, when
``dropout > 0``, Dropout), then one Linear to ``num_classes``. There is no adaptive pooling: the flatten size is found
by a dummy forward through ``features`` at build time, so it follows ``image_size`` and ``pool_last``. At 32×32 input
five pools leave 512×1×1; dropping the fifth (``pool_last=False``) leaves 512×2×2 = 2048 features.

``width`` scales every conv channel count and every hidden size by ``max(1, round(c * width))``.

VGG-11, -16 and -19 are registered beside VGG-13 (their features feed ``trainlab style``); at 3×224×224 with 1,000
classes each has torchvision's parameter count, and ``features.N`` / ``classifier.N`` are torchvision's names, so its
``state_dict`` files load as they are (:mod:`trainlab.models.transfer`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import torch
from torch import nn

from trainlab.errors import TrainlabError
from trainlab.models.common import scaled
from trainlab.models.registry import MODELS
from trainlab.models.transfer import apply_pretrained

MAX_HIDDEN = 1 << 20  # units of one classifier layer: 256x the reference 4,096; more overflows torch's sizes
CFGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
CLASSIFIER_WEIGHT = re.compile(r"classifier\.(\d+)\.weight")
IMAGENET_CLASSES = 1000


def make_layers(cfg: Sequence[int | str], in_channels: int, width: float, batch_norm: bool) -> nn.Sequential:
    """The convolutional ``features`` stack described by ``cfg``."""
    layers: list[nn.Module] = []
    channels = in_channels
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        out = scaled(int(item), width)
        layers.append(nn.Conv2d(channels, out, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU(inplace=True))
        channels = out
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """``features`` (convs and pools) → flatten → ``classifier`` (hidden Linear layers, then the output Linear)."""

    # What transfer learning keeps (trainlab.models.transfer): the features must load; hidden classifier layers load
    # when their shapes fit (the same flatten size), and the output Linear is always new.
    backbone_prefixes = ("features.",)

    def __init__(
        self,
        features: nn.Sequential,
        in_channels: int,
        image_size: int,
        num_classes: int,
        hidden: Sequence[int],
        dropout: float,
    ) -> None:
        super().__init__()
        self.features = features
        flat = self._flatten_size(in_channels, image_size)
        layers: list[nn.Module] = []
        for size in hidden:
            layers += [nn.Linear(flat, size), nn.ReLU(inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            flat = size
        layers.append(nn.Linear(flat, num_classes))
        self.classifier = nn.Sequential(*layers)
        self._init_weights()

    @torch.no_grad()
    def _flatten_size(self, in_channels: int, image_size: int) -> int:
        # Eval mode so BatchNorm neither updates its running stats nor needs more than one value per channel.
        was_training = self.features.training
        self.features.eval()
        out = self.features(torch.zeros(1, in_channels, image_size, image_size))
        self.features.train(was_training)
        return out[0].numel()

    def _init_weights(self) -> None:
        # As torchvision: Kaiming for convs, BN as identity, small normal for Linear.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    @property
    def output_prefix(self) -> str:
        return f"classifier.{len(self.classifier) - 1}."

    @staticmethod
    def torchvision_layout(state: dict[str, torch.Tensor]) -> bool:
        """True for a file whose last classifier layer has ImageNet's 1,000 classes (torchvision's VGG files)."""
        layers = sorted(int(m.group(1)) for key in state if (m := CLASSIFIER_WEIGHT.fullmatch(key)))
        return bool(layers) and state[f"classifier.{layers[-1]}.weight"].shape[0] == IMAGENET_CLASSES

    def align_pretrained(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``state`` with its classifier's Linear layers renumbered onto this model's, in order (hidden to hidden,
        output to output): Dropout layers shift the indices (torchvision's 0/3/6 are 0/2/4 without Dropout). Hidden
        layers the model does not have are kept under an ``unused.`` name, so they count as unexpected."""
        theirs = sorted({int(m.group(1)) for key, value in state.items()
                         if (m := CLASSIFIER_WEIGHT.fullmatch(key)) and value.ndim == 2})
        ours = [index for index, module in enumerate(self.classifier) if isinstance(module, nn.Linear)]
        mapping = dict(zip(theirs[:-1], ours[:-1], strict=False))
        if theirs:
            mapping[theirs[-1]] = ours[-1]
        aligned = {}
        for key, value in state.items():
            parts = key.split(".")
            if parts[0] == "classifier" and len(parts) == 3 and parts[1].isdigit():
                index = int(parts[1])
                key = f"classifier.{mapping[index]}.{parts[2]}" if index in mapping else f"unused.{key}"
            aligned[key] = value
        return aligned

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def build_vgg(
    cfg_name: str,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    dropout: float = 0.0,
    width: float = 1.0,
    batch_norm: bool = False,
    hidden: Sequence[int] = (4096, 4096),
    pool_last: bool = True,
    weights: str | None = None,
    freeze: bool = False,
    backbone_lr_scale: float = 1.0,
) -> VGG:
    """Build the VGG of configuration ``cfg_name``; see the module docstring for the options, and
    :mod:`~trainlab.models.transfer` for ``weights``, ``freeze`` and ``backbone_lr_scale``."""
    if not isinstance(batch_norm, bool):
        raise TrainlabError(f"model {cfg_name!r} option 'batch_norm' must be true or false, got {batch_norm!r}")
    if not isinstance(pool_last, bool):
        raise TrainlabError(f"model {cfg_name!r} option 'pool_last' must be true or false, got {pool_last!r}")
    if (
        isinstance(hidden, str | bytes)
        or not isinstance(hidden, Sequence)
        or not all(isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= MAX_HIDDEN for size in hidden)
    ):
        shown = repr(hidden) if len(repr(hidden)) <= 80 else repr(hidden)[:77] + "..."
        raise TrainlabError(f"model {cfg_name!r} option 'hidden' must be a list of integers from 1 to {MAX_HIDDEN:,}, "
                            f"got {shown}")

    cfg = list(CFGS[cfg_name])
    if not pool_last and cfg[-1] == "M":
        cfg.pop()
    pools = cfg.count("M")
    size = image_size
    for _ in range(pools):
        size //= 2
    if size < 1:
        raise TrainlabError(
            f"model {cfg_name!r} needs image_size >= {2**pools} ({pools} max-pools halve it); "
            f"got image_size={image_size}"
        )

    features = make_layers(cfg, in_channels, width, batch_norm)
    model = VGG(features, in_channels, image_size, num_classes, [scaled(h, width) for h in hidden], dropout)
    return apply_pretrained(model, cfg_name, weights=weights, freeze=freeze, backbone_lr_scale=backbone_lr_scale)


for _name in CFGS:
    MODELS.register(_name)(functools.partial(build_vgg, _name))
