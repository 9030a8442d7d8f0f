"""What one ``trainlab style`` run does: :class:`StyleSettings`, checked when it is made, with messages naming the
command-line option, so that a bad value fails before any weights or images are read.

``size`` is the **longest side** of the result in pixels (the content image is scaled to it, keeping its aspect
ratio; each style image is scaled the same way). ``steps`` counts loss-and-gradient evaluations, each followed by one
update, for both optimizers (see :mod:`trainlab.style.optimize`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from trainlab.errors import TrainlabError
from trainlab.style.features import check_layer_syntax
from trainlab.validate import check_float, check_int

DEFAULT_STYLE_LAYERS = {"conv1_1": 1.0, "conv2_1": 1.0, "conv3_1": 1.0, "conv4_1": 1.0, "conv5_1": 1.0}
DEFAULT_CONTENT_LAYERS = ("conv4_2",)
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}
MIN_SIZE, MAX_SIZE = 16, 2048  # five VGG blocks need 16 px for conv5_1; 2048² activations of VGG-19 take ~1 GiB each
MAX_STEPS = 100_000
MAX_WEIGHT = 1e15
MAX_STYLES = 8
CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": ("lbfgs", "adam"), "init": ("content", "noise"), "device": ("auto", "cpu", "cuda"),
    "pool": ("avg", "max"),
}


@dataclass(frozen=True)
class StyleSettings:
    """One style transfer: images, feature net, loss weights and optimizer (see the module docstring).

    ``content`` and each ``style`` are a file path or ``skimage:NAME`` (a bundled picture); ``weights`` is what
    :func:`~trainlab.models.weights.read_weights` reads, or None for the packaged demo feature net. ``lr`` None is
    the optimizer's default (:data:`DEFAULT_LR`).
    """

    content: str
    style: tuple[str, ...]
    weights: str | None = None
    size: int = 256
    steps: int = 300
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"
    lr: float | None = None
    content_weight: float = 1.0
    style_weight: float = 1e6
    tv_weight: float = 1.0
    style_layers: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_STYLE_LAYERS))
    content_layers: tuple[str, ...] = DEFAULT_CONTENT_LAYERS
    init: Literal["content", "noise"] = "content"
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    pool: Literal["avg", "max"] = "avg"

    def __post_init__(self) -> None:
        if isinstance(self.style, str):
            object.__setattr__(self, "style", (self.style,))
        object.__setattr__(self, "content_layers", tuple(self.content_layers))
        object.__setattr__(self, "style_layers", dict(self.style_layers))
        self._check_choices()
        self._check_numbers()
        self._check_layers()
        if not self.style or len(self.style) > MAX_STYLES:
            raise TrainlabError(f"--style: give 1 to {MAX_STYLES} style images, got {len(self.style)}")

    def _check_choices(self) -> None:
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise TrainlabError(f"--{name} must be one of {', '.join(allowed)}, got {value!r}")

    def _check_numbers(self) -> None:
        check_int("--size", self.size, MIN_SIZE, MAX_SIZE)
        check_int("--steps", self.steps, 1, MAX_STEPS)
        check_int("--seed", self.seed, 0, 2**63 - 1)
        if self.lr is not None:
            check_float("--lr", self.lr, 0.0, 1e3, min_inclusive=False)
        for name in ("content_weight", "style_weight", "tv_weight"):
            check_float(f"--{name.replace('_', '-')}", getattr(self, name), 0.0, MAX_WEIGHT)
        if self.content_weight == 0 and self.style_weight == 0:
            raise TrainlabError("--content-weight and --style-weight are both 0: nothing to optimize; set one above 0")

    def _check_layers(self) -> None:
        if not self.style_layers:
            raise TrainlabError("--style-layers is empty; expected e.g. conv1_1=1,conv2_1=1,conv3_1=1")
        if not self.content_layers:
            raise TrainlabError("--content-layer is empty; expected a layer name such as conv4_2")
        check_layer_syntax(self.style_layers, "--style-layers")
        check_layer_syntax(self.content_layers, "--content-layer")
        for name, weight in self.style_layers.items():
            check_float(f"--style-layers weight of {name}", weight, 0.0, MAX_WEIGHT)
        if not any(weight > 0 for weight in self.style_layers.values()):
            raise TrainlabError("--style-layers: every layer weight is 0; give at least one a weight above 0")

    @property
    def learning_rate(self) -> float:
        """``lr``, or the optimizer's default."""
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values, with the learning rate resolved."""
        return {**asdict(self), "style": list(self.style), "content_layers": list(self.content_layers),
                "lr": self.learning_rate}


def parse_layer_weights(text: str, option: str = "--style-layers") -> dict[str, float]:
    """``"conv1_1=1,conv2_1=0.5"`` (a name alone weighs 1) → ``{"conv1_1": 1.0, "conv2_1": 0.5}``."""
    weights: dict[str, float] = {}
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        name, _, value = part.partition("=")
        try:
            weight = float(value) if value.strip() else 1.0
        except ValueError:
            raise TrainlabError(f"{option}: {part!r} is not NAME=WEIGHT; expected e.g. conv1_1=1,conv2_1=0.5") from None
        if not math.isfinite(weight):
            raise TrainlabError(f"{option}: the weight of {name.strip()!r} must be a finite number, got {value!r}")
        weights[name.strip()] = weight
    if not weights:
        raise TrainlabError(f"{option} is empty; expected e.g. conv1_1=1,conv2_1=1,conv3_1=1")
    return weights


def parse_layers(text: str, option: str = "--content-layer") -> tuple[str, ...]:
    """``"conv4_2"`` or ``"conv4_2,conv5_2"`` → a tuple of names."""
    return tuple(name.strip() for name in text.split(",") if name.strip())
