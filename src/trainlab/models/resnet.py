"""ResNet (He et al., 2015) with basic blocks, written out rather than taken from torchvision.

The network is a stem, four stages of residual blocks, global average pooling and one Linear::

    stem:    7×7 conv stride 2 (no bias) → BN → ReLU → 3×3 max-pool stride 2       (spatial size / 4)
    stage i: LAYERS[name][i] BasicBlocks with 64, 128, 256, 512 channels, each max(1, round(c × width))
             the first block of stages 2-4 has stride 2                            (spatial size / 2 each)
    head:    AdaptiveAvgPool2d(1) → flatten → Dropout (when dropout > 0) → Linear to num_classes

A :class:`BasicBlock` computes ``relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x))``; the shortcut is the identity
unless the block changes stride or channels, then it is a 1×1 conv (no bias) + BN. Global pooling makes the network
accept any ``image_size``. Initialisation follows torchvision: Kaiming-normal convs, BatchNorm weight 1 and bias 0.

Module names follow torchvision's but for the stem (``stem.0``/``stem.1`` for its ``conv1``/``bn1``), so a torchvision
``state_dict`` loads after that one rename (:meth:`ResNet.align_pretrained`; see :mod:`trainlab.models.transfer`).
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from trainlab.models.common import scaled
from trainlab.models.registry import MODELS
from trainlab.models.transfer import apply_pretrained

LAYERS: dict[str, tuple[int, ...]] = {
    "resnet18": (2, 2, 2, 2),
}
STAGE_CHANNELS = (64, 128, 256, 512)
TORCHVISION_STEM = {"conv1.": "stem.0.", "bn1.": "stem.1."}  # torchvision's name → trainlab's


class BasicBlock(nn.Module):
    """Two 3×3 convs with BatchNorm and a residual shortcut; ``stride`` applies to the first conv and the shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))


class ResNet(nn.Module):
    """Stem → four stages of :class:`BasicBlock` → global average pool → (Dropout) → Linear."""

    # What transfer learning keeps and replaces (trainlab.models.transfer): every tensor before the head, and ``fc``.
    backbone_prefixes = ("stem.", "layer1.", "layer2.", "layer3.", "layer4.")
    output_prefix = "fc."

    def __init__(self, blocks: tuple[int, ...], in_channels: int, num_classes: int, dropout: float, width: float):
        super().__init__()
        widths = [scaled(c, width) for c in STAGE_CHANNELS]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        stages: list[nn.Module] = []
        channels = widths[0]
        for i, (count, out) in enumerate(zip(blocks, widths, strict=True)):
            stride = 1 if i == 0 else 2
            stage = [BasicBlock(channels, out, stride)] + [BasicBlock(out, out) for _ in range(count - 1)]
            stages.append(nn.Sequential(*stage))
            channels = out
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(channels, num_classes)

        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    @staticmethod
    def torchvision_layout(state: dict[str, torch.Tensor]) -> bool:
        """True for torchvision's key names (its stem is ``conv1``/``bn1``)."""
        return "conv1.weight" in state

    @staticmethod
    def align_pretrained(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``state`` with torchvision's stem keys renamed to trainlab's; other keys are the same in both."""
        renamed = {}
        for key, value in state.items():
            old = next((prefix for prefix in TORCHVISION_STEM if key.startswith(prefix)), None)
            renamed[TORCHVISION_STEM[old] + key[len(old):] if old else key] = value
        return renamed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(self.dropout(x))


def build_resnet(
    layers_name: str,
    *,
    in_channels: int,
    num_classes: int,
    image_size: int,
    dropout: float = 0.0,
    width: float = 1.0,
    weights: str | None = None,
    freeze: bool = False,
    backbone_lr_scale: float = 1.0,
) -> ResNet:
    """Build the ResNet with block counts ``LAYERS[layers_name]``; global pooling makes ``image_size`` free.

    ``weights``, ``freeze`` and ``backbone_lr_scale`` start it from pretrained weights
    (:mod:`~trainlab.models.transfer`).
    """
    del image_size  # any size works: the stem and strides only shrink it, never below 1
    model = ResNet(LAYERS[layers_name], in_channels, num_classes, dropout, width)
    return apply_pretrained(model, layers_name, weights=weights, freeze=freeze, backbone_lr_scale=backbone_lr_scale)


for _name in LAYERS:
    MODELS.register(_name)(functools.partial(build_resnet, _name))
