"""The optimization: the pixels of one image are trained so that its features match the content image's and its
Gram matrices the style image's (Gatys et al.); the feature net stays frozen.

* Pixels start in [0, 1] and are normalized with the feature net's mean/std inside its forward. Adam's are clamped
  back to [0, 1] after every update (the PyTorch tutorial's projection). L-BFGS's are clamped once, at the end, as
  in Johnson's neural-style: a projection between its iterations makes the update differ from the one its curvature
  pairs assume, and on tubingen + the scream the loss climbed back from 0.07 to 89 after 250 steps. (A sigmoid
  parametrization would change the loss landscape and slow down the dark and bright regions.)
* A **step** is one evaluation of the loss and its gradient, followed by one update, for both optimizers, so
  ``--steps 300`` costs the same with L-BFGS and Adam. L-BFGS (``torch.optim.LBFGS``) runs the steps as the
  iterations of one ``step()`` call, without line search.
* The history holds ``steps + 1`` rows: row ``k`` is the loss of the image after ``k`` updates (row 0 the start,
  the last row the result). Its terms are weighted (``content_weight ×`` content loss, etc.), so
  ``total = content + style + tv``; ``seconds`` is the time since the optimization began.
* Several style images blend: the target Gram matrices are their means (for squared errors this has the same
  gradient as averaging the style losses over the images).

On the CPU the result is deterministic for a fixed seed (the seed draws the noise of ``init="noise"``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import torch

from trainlab.errors import TrainlabError
from trainlab.style.features import FeatureNet, load_feature_net, loss_layer
from trainlab.style.images import check_image_spec, load_image
from trainlab.style.losses import content_loss, gram_matrix, style_loss, tv_loss
from trainlab.style.settings import StyleSettings

__all__ = ["HistoryRow", "StyleResult", "StyleSettings", "check_layers", "resolve_device", "stylize"]
TERMS = ("content", "style", "tv", "total")


@dataclass(frozen=True)
class HistoryRow:
    """The weighted loss terms of the image after ``step`` updates, and the seconds since the start."""

    step: int
    content: float
    style: float
    tv: float
    total: float
    seconds: float


@dataclass(frozen=True)
class StyleResult:
    """The stylized ``image`` ([1, 3, H, W] in [0, 1], on the CPU), the inputs as optimized against, the history."""

    settings: StyleSettings
    image: torch.Tensor
    content: torch.Tensor
    styles: list[torch.Tensor]
    history: list[HistoryRow]
    started: datetime
    seconds: float
    device: str
    net_description: str
    net_source: str
    net_normalization: str


@dataclass(frozen=True)
class Targets:
    content: dict[str, torch.Tensor]  # activation of the content image, by loss layer
    grams: dict[str, torch.Tensor]  # mean Gram matrix of the style images, by loss layer
    style_weights: dict[str, float]  # by loss layer


def resolve_device(choice: str) -> torch.device:
    """``auto``: the GPU when PyTorch sees one, else the CPU; ``cuda`` without a GPU is an error."""
    available = torch.cuda.is_available()
    if choice == "cuda" and not available:
        raise TrainlabError("--device cuda: PyTorch sees no CUDA GPU here; use --device auto or cpu")
    return torch.device("cuda" if choice == "cuda" or (choice == "auto" and available) else "cpu")


def check_layers(net: FeatureNet, settings: StyleSettings) -> list[str]:
    """Fail on a layer ``net`` does not have; return the activations the losses read."""
    layers = [loss_layer(name) for name in (*settings.content_layers, *settings.style_layers)]
    net.check([*settings.content_layers, *settings.style_layers, *layers])
    return layers


def _check_size(image: torch.Tensor, spec: str, role: str, net: FeatureNet, layers: list[str]) -> None:
    """The image must survive the pools before the deepest layer (each halves the size, rounding down)."""
    deepest = max(net.index_of(name) for name in layers)
    pools = sum(name.startswith("pool") for name in net.names[:deepest])
    short = min(image.shape[-2:])
    if short >> pools < 1:
        raise TrainlabError(f"{role} image {spec} is {image.shape[-1]}×{image.shape[-2]} px at this --size, too "
                            f"small for layer {net.names[deepest]} after {pools} pools; its short side needs "
                            f"{2**pools} px (raise --size or crop the image)")


def _targets(net: FeatureNet, content: torch.Tensor, styles: list[torch.Tensor], settings: StyleSettings) -> Targets:
    style_weights: dict[str, float] = {}
    for name, weight in settings.style_layers.items():
        style_weights[loss_layer(name)] = style_weights.get(loss_layer(name), 0.0) + weight
    content_taps = list(dict.fromkeys(loss_layer(name) for name in settings.content_layers))
    with torch.no_grad():
        wanted = net(content, content_taps)
        found = [net(style, list(style_weights)) for style in styles]
        grams = {name: torch.stack([gram_matrix(f[name]) for f in found]).mean(0) for name in style_weights}
    return Targets({name: wanted[name] for name in content_taps}, grams, style_weights)


def _loss(net: FeatureNet, image: torch.Tensor, targets: Targets, settings: StyleSettings
          ) -> tuple[torch.Tensor, dict[str, float]]:
    features = net(image, [*targets.content, *targets.style_weights])
    content = torch.stack([content_loss(features[n], t) for n, t in targets.content.items()]).sum()
    parts = {"content": settings.content_weight * content,
             "style": settings.style_weight * style_loss(features, targets.grams, targets.style_weights),
             "tv": settings.tv_weight * tv_loss(image)}
    total = parts["content"] + parts["style"] + parts["tv"]
    return total, {**{name: value.detach().item() for name, value in parts.items()}, "total": total.detach().item()}


def _initial(content: torch.Tensor, settings: StyleSettings) -> torch.Tensor:
    if settings.init == "content":
        return content.clone()
    generator = torch.Generator().manual_seed(settings.seed)
    return torch.rand(content.shape, generator=generator).to(content.device)


def _optimizer(image: torch.Tensor, settings: StyleSettings) -> torch.optim.Optimizer:
    if settings.optimizer == "adam":
        return torch.optim.Adam([image], lr=settings.learning_rate)
    # All the steps in one step() call, without line search: one closure evaluation per iteration (``steps`` of
    # them); the tolerances are off so that L-BFGS never stops early on its own.
    return torch.optim.LBFGS([image], lr=settings.learning_rate, max_iter=settings.steps,
                             max_eval=settings.steps + 1, tolerance_grad=0.0, tolerance_change=0.0, history_size=100)


def _row(step: int, parts: dict[str, float], start: float) -> HistoryRow:
    if not math.isfinite(parts["total"]):
        raise TrainlabError(f"the loss became {parts['total']} at step {step}; lower --lr (or --style-weight), or "
                            "use --optimizer adam")
    return HistoryRow(step, parts["content"], parts["style"], parts["tv"], parts["total"], time.perf_counter() - start)


def _run(net: FeatureNet, image: torch.Tensor, targets: Targets, settings: StyleSettings, start: float,
         progress: Callable[[HistoryRow], None] | None) -> list[HistoryRow]:
    optimizer = _optimizer(image, settings)
    rows: list[HistoryRow] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        total, parts = _loss(net, image, targets, settings)
        rows.append(_row(len(rows), parts, start))
        if progress is not None:
            progress(rows[-1])
        total.backward()
        return total

    if isinstance(optimizer, torch.optim.LBFGS):
        optimizer.step(closure)  # every iteration; clamping in between would break its curvature pairs
    else:
        for _ in range(settings.steps):
            closure()
            optimizer.step()
            with torch.no_grad():
                image.clamp_(0.0, 1.0)
    with torch.no_grad():
        image.clamp_(0.0, 1.0)
        rows.append(_row(settings.steps, _loss(net, image, targets, settings)[1], start))
    if progress is not None:
        progress(rows[-1])
    return rows


def stylize(settings: StyleSettings, net: FeatureNet | None = None,
            progress: Callable[[HistoryRow], None] | None = None) -> StyleResult:
    """Run one style transfer. ``net`` reuses a loaded feature net (else ``settings.weights`` is read);
    ``progress`` is called with each row of the history as it is measured."""
    for role, spec in (("content", settings.content), *(("style", spec) for spec in settings.style)):
        check_image_spec(spec, role)
    net = net if net is not None else load_feature_net(settings.weights, settings.pool)
    layers = check_layers(net, settings)
    device = resolve_device(settings.device)
    torch.manual_seed(settings.seed)
    content = load_image(settings.content, "content", settings.size)
    styles = [load_image(spec, "style", settings.size) for spec in settings.style]
    for role, spec, picture in (("content", settings.content, content),
                                *(("style", spec, s) for spec, s in zip(settings.style, styles, strict=True))):
        _check_size(picture, spec, role, net, layers)
    net = net.to(device)
    targets = _targets(net, content.to(device), [style.to(device) for style in styles], settings)
    image = _initial(content.to(device), settings).requires_grad_(True)
    started, start = datetime.now(), time.perf_counter()
    history = _run(net, image, targets, settings, start, progress)
    return StyleResult(settings, image.detach().cpu(), content, styles, history, started, time.perf_counter() - start,
                       str(device), net.description, net.source, net.normalization)
