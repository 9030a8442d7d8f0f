"""A frozen VGG feature extractor with named layers, built from a weights file.

The ``features`` stack of :func:`trainlab.models.vgg.make_layers` (torchvision's ``features.N`` indices) is walked
and each module named by its block (1..5, split by the pools) and its place in the block:
``conv{b}_{i}``, ``bn{b}_{i}`` (BatchNorm nets), ``relu{b}_{i}`` and ``pool{b}``. VGG-16's ``features.19`` is
``conv4_2`` (the content layer of Gatys et al.), ``features.21`` is ``conv4_3``.

Which activation a loss reads: style and content layers are named by their convolution (``conv4_2``) and read **after
the ReLU that follows it** (after BatchNorm too, when the net has it), as Gatys et al. did (Caffe's in-place ReLU
leaves the rectified values in the conv's blob). ``relu``/``bn``/``pool`` names are accepted as they are. The
extractor itself returns any named module's output, so ``conv`` names there are the raw convolution outputs.

The max-pools may be replaced by 2×2 average pools (``pool="avg"``, Gatys' choice and the default: gradients reach
every pixel instead of the maximum of each window). The ReLUs are made out-of-place so that a convolution's output,
once returned, is not rectified in place by the next layer.

Architecture comes from the weights themselves: the number of 4-D ``features.N.weight`` tensors (8, 10, 13, 16 for
VGG-11, -13, -16, -19), BatchNorm when ``features.1.running_mean`` is there, and the width from the run's model
section or else the first convolution's channels / 64 (or the last's / 512, for a width that does not divide 64
evenly); every tensor's shape is then checked against the built stack, and any difference is one error naming
the file, the tensor and what the file holds.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainlab.errors import TrainlabError
from trainlab.models.transfer import describe_layout
from trainlab.models.vgg import CFGS, make_layers
from trainlab.models.weights import IMAGENET_MEAN, IMAGENET_STD, WeightsFile, read_weights

DEMO_WEIGHTS = "vgg13_bn_w0.25_course.pt"
ASSETS = "assets"
PREFIX = "features."
CONVS_TO_NAME = {len([c for c in cfg if c != "M"]): name for name, cfg in CFGS.items()}  # 8 → vgg11, ...
PRETTY = {"vgg11": "VGG-11", "vgg13": "VGG-13", "vgg16": "VGG-16", "vgg19": "VGG-19"}
NEEDED = ("a VGG-11/13/16/19 with 3 input channels: a torchvision VGG state_dict file (e.g. vgg19-dcbb9e9d.pth), a "
          "trainlab VGG run folder, or torchvision:vgg19 when it is in the local torch cache")
LAYER_NAME = re.compile(r"(conv|bn|relu)([1-9])_([1-9]\d*)|pool([1-9])")


@dataclass(frozen=True)
class Architecture:
    """What a weights file's ``features`` hold: configuration name, width multiplier and BatchNorm."""

    name: str
    width: float
    batch_norm: bool

    def describe(self) -> str:
        bn = ", BatchNorm" if self.batch_norm else ""
        return f"{PRETTY[self.name]} features (width {self.width:g}{bn})"


def layer_names(features: nn.Sequential) -> list[str]:
    """The name of each module of a VGG ``features`` stack, in order (see the module docstring)."""
    names, block, conv = [], 1, 0
    for module in features:
        if isinstance(module, nn.Conv2d):
            conv += 1
            names.append(f"conv{block}_{conv}")
        elif isinstance(module, nn.BatchNorm2d):
            names.append(f"bn{block}_{conv}")
        elif isinstance(module, nn.ReLU):
            names.append(f"relu{block}_{conv}")
        elif isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:
            raise TypeError(f"unexpected module in a VGG features stack: {module}")
    return names


def loss_layer(name: str) -> str:
    """The activation a style or content loss reads for ``name``: a convolution is read after its ReLU."""
    return "relu" + name[4:] if name.startswith("conv") else name


def check_layer_syntax(names: Iterable[str], option: str) -> None:
    """Fail early on a name that cannot be a VGG layer (``conv4_2``, ``relu1_1``, ``pool3`` are)."""
    for name in names:
        if not LAYER_NAME.fullmatch(name):
            raise TrainlabError(f"{option}: {name!r} is not a VGG layer name; expected names such as conv1_1, "
                                "conv4_2 (block_index), relu3_1 or pool2")


class FeatureNet(nn.Module):
    """A frozen VGG ``features`` stack that returns the activations of named layers.

    ``forward(image, layers)`` takes images in [0, 1] (normalized here with ``mean``/``std``) and returns
    ``{name: activation}``, running only as far as the deepest requested layer.
    """

    def __init__(self, features: nn.Sequential, mean: Sequence[float], std: Sequence[float], *,
                 pool: str = "avg", description: str = "", source: str = "", normalization: str = "") -> None:
        super().__init__()
        self.names = layer_names(features)
        self.layers = nn.Sequential(*(_swap(module, pool) for module in features))
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))
        self.description, self.source, self.normalization, self.pool = description, source, normalization, pool
        self.requires_grad_(False)
        self.eval()

    def index_of(self, name: str) -> int:
        """The position of layer ``name`` in the stack (torchvision's ``features.N`` index)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise TrainlabError(self._unknown(name)) from None

    def _unknown(self, name: str) -> str:
        convs = [n for n in self.names if n.startswith("conv")]
        return (f"layer {name!r} is not in this feature net ({self.description}); its conv layers are "
                f"{', '.join(convs)} (relu…, bn… and pool1…pool{self.names[-1][4:]} names work too)")

    def check(self, names: Iterable[str]) -> None:
        """Raise one TrainlabError for the first name this net does not have."""
        for name in names:
            self.index_of(name)

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        return (image - self.mean) / self.std

    def features_of(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """The activations of ``layers`` for an already normalized input ``x``."""
        wanted = {self.index_of(name): name for name in layers}
        found: dict[str, torch.Tensor] = {}
        if not wanted:
            return found
        last = max(wanted)
        for index, module in enumerate(self.layers):
            x = module(x)
            if index in wanted:
                found[wanted[index]] = x
            if index == last:
                break
        return found

    def forward(self, image: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:  # type: ignore[override]
        return self.features_of(self.normalize(image), layers)


def _swap(module: nn.Module, pool: str) -> nn.Module:
    if isinstance(module, nn.ReLU):
        return nn.ReLU(inplace=False)
    if isinstance(module, nn.MaxPool2d) and pool == "avg":
        return nn.AvgPool2d(kernel_size=2, stride=2)
    return module


# --- from weights ----------------------------------------------------------------------------------------------------


def _conv_keys(state: dict[str, torch.Tensor]) -> list[str]:
    keys = [key for key, value in state.items()
            if key.startswith(PREFIX) and key.endswith(".weight") and value.ndim == 4
            and key[len(PREFIX):-len(".weight")].isdigit()]
    return sorted(keys, key=lambda key: int(key[len(PREFIX):-len(".weight")]))


def _refuse(source: str, state: dict[str, torch.Tensor], problem: str) -> TrainlabError:
    return TrainlabError(f"weights {source} cannot serve as a style feature net: {problem}. The file holds "
                         f"{describe_layout(state)}; pass {NEEDED}")


def _widths(state: dict[str, torch.Tensor], convs: list[str], model: dict[str, Any]) -> list[float]:
    """Candidate width multipliers: the run's own, then first conv / 64, then last conv / 512."""
    found = []
    if isinstance(model.get("width"), int | float) and not isinstance(model.get("width"), bool):
        found.append(float(model["width"]))
    found += [state[convs[0]].shape[0] / 64, state[convs[-1]].shape[0] / 512]
    return list(dict.fromkeys(found))


def _mismatch(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> str | None:
    """The first difference between the built stack's tensors and the file's ``features.*`` tensors, if any."""
    theirs = {key[len(PREFIX):]: value for key, value in state.items() if key.startswith(PREFIX)}
    for key, tensor in expected.items():
        if key not in theirs and not key.endswith("num_batches_tracked"):
            return f"features.{key} is missing"
        if key in theirs and tuple(theirs[key].shape) != tuple(tensor.shape):
            return f"features.{key} has shape {list(theirs[key].shape)} where {list(tensor.shape)} is expected"
    extra = [key for key in theirs if key not in expected]
    return f"features.{extra[0]} is not part of that stack" if extra else None


def infer_architecture(state: dict[str, torch.Tensor], source: str,
                       model: dict[str, Any] | None = None) -> tuple[Architecture, nn.Sequential]:
    """The VGG a state's ``features.*`` tensors describe, and its ``features`` stack with those tensors loaded."""
    convs = _conv_keys(state)
    if not convs:
        raise _refuse(source, state, "it has no VGG features (no features.N.weight convolution tensors)")
    name = CONVS_TO_NAME.get(len(convs))
    if name is None:
        raise _refuse(source, state, f"it has {len(convs)} convolutions in features, and VGG-11/13/16/19 have "
                                     "8/10/13/16")
    trained = (model or {}).get("name")
    if isinstance(trained, str) and trained.startswith("vgg") and trained != name:
        raise _refuse(source, state, f"its run trained {trained!r}, but its features hold {len(convs)} convolutions")
    if state[convs[0]].shape[1] != 3:
        raise _refuse(source, state, f"its first convolution takes {state[convs[0]].shape[1]} input channel(s); "
                                     "style transfer works on RGB images (3 channels)")
    batch_norm = f"{PREFIX}1.running_mean" in state
    problem = ""
    for width in _widths(state, convs, model or {}):
        features = make_layers(CFGS[name], 3, width, batch_norm)
        mismatch = _mismatch(features.state_dict(), state)
        if mismatch is None:
            features.load_state_dict({key[len(PREFIX):]: value.float() if value.is_floating_point() else value
                                      for key, value in state.items() if key.startswith(PREFIX)}, strict=False)
            return Architecture(name, width, batch_norm), features
        problem = problem or f"as a {Architecture(name, width, batch_norm).describe()}, {mismatch}"
    raise _refuse(source, state, problem)


def normalization_of(weights: WeightsFile) -> tuple[tuple[float, ...], tuple[float, ...], str]:
    """The mean/std the weights were trained with when the source says, else ImageNet's (torchvision's files, and
    any plain file of VGG features); with a few words saying which."""
    if weights.mean is not None and weights.std is not None:
        if len(weights.mean) != 3 or len(weights.std) != 3 or not all(s > 0 for s in weights.std):
            raise TrainlabError(f"weights {weights.source}: the recorded normalization (mean {list(weights.mean)}, "
                                f"std {list(weights.std)}) is not 3 channels with positive std")
        return tuple(weights.mean), tuple(weights.std), "the weights' own mean/std"
    return IMAGENET_MEAN, IMAGENET_STD, "ImageNet mean/std (the file records none; torchvision's convention)"


def feature_net(weights: WeightsFile, pool: str = "avg") -> FeatureNet:
    """A frozen :class:`FeatureNet` from weights as read by :func:`~trainlab.models.weights.read_weights`."""
    arch, features = infer_architecture(weights.state, weights.source, weights.model)
    mean, std, said = normalization_of(weights)
    return FeatureNet(features, mean, std, pool=pool, description=arch.describe(), source=weights.describe(),
                      normalization=said)


# --- the packaged demo weights and sidecars --------------------------------------------------------------------------


def demo_weights_path() -> Path | None:
    """The packaged demo feature net (``style/assets/DEMO_WEIGHTS``), or None when it is not installed."""
    path = Path(str(resources.files("trainlab.style").joinpath(ASSETS, DEMO_WEIGHTS)))
    return path if path.is_file() else None


def read_sidecar(path: Path) -> dict[str, Any]:
    """``<stem>.json`` beside a weights file (mean, std, source, notes), as written by scripts/make-style-weights.py;
    {} when there is none."""
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TrainlabError(f"{sidecar} (the description of {path.name}) is not readable JSON: {error}") from None
    for key in ("mean", "std"):
        values = data.get(key) if isinstance(data, dict) else None
        if values is not None and not (isinstance(values, list) and len(values) == 3 and all(
                isinstance(v, int | float) and math.isfinite(v) for v in values)):
            raise TrainlabError(f"{sidecar}: {key!r} must be a list of 3 numbers, got {values!r}")
    return data if isinstance(data, dict) else {}


def read_style_weights(spec: str | None) -> WeightsFile:
    """The weights ``--weights`` names (None: the packaged demo net), with a sidecar's mean/std, source and model
    section applied (:func:`read_sidecar`)."""
    packaged = spec is None
    if spec is None:
        path = demo_weights_path()
        if path is None:
            raise TrainlabError(f"no feature net: the demo's packaged weights (trainlab/style/{ASSETS}/{DEMO_WEIGHTS}) "
                                f"are not installed; pass --weights: {NEEDED}")
        spec = str(path)
    weights = read_weights(spec)
    path = Path(spec).expanduser()
    sidecar = read_sidecar(path) if path.is_file() else {}
    kind, source = ("packaged demo net", DEMO_WEIGHTS) if packaged else (weights.kind, weights.source)
    said = "; ".join(str(sidecar[key]) for key in ("source", "notes") if sidecar.get(key))
    source = f"{source} ({said})" if said else source
    model = sidecar.get("model") if isinstance(sidecar.get("model"), dict) else weights.model
    mean, std = sidecar.get("mean") or weights.mean, sidecar.get("std") or weights.std
    return WeightsFile(weights.state, source, kind, None if mean is None else tuple(mean),
                       None if std is None else tuple(std), model)


def load_feature_net(spec: str | None, pool: str = "avg") -> FeatureNet:
    """:func:`read_style_weights` then :func:`feature_net`."""
    return feature_net(read_style_weights(spec), pool)
