"""The loss terms of neural style transfer (Gatys, Ecker & Bethge, 2016), as pure functions of tensors.

* Content: the mean squared difference of one layer's activations (the image should *depict* the content).
* Style: per layer, the mean squared difference of Gram matrices (which features fire *together*, wherever they are:
  texture without layout), summed over layers with a weight each.
* Total variation: the mean squared difference of neighbouring pixels, a smoothness prior against high-frequency
  noise.

Gram normalization: ``G = F Fᵀ / (C·H·W)`` for the features ``F`` of one image reshaped to ``C × (H·W)``, i.e. the
mean over positions of the products of two channels, divided once more by ``C``. Dividing by ``H·W`` makes the Gram of
a 256-px image comparable to that of a 512-px one (the style image may have another size than the result); dividing by
``C`` keeps layers of many channels from dominating the sum (the PyTorch tutorial's normalization). Gatys et al. divide
the squared difference by ``4 N² M²`` instead, which differs by constant factors per layer that the weights absorb.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W]`` → ``[B, C, C]``: ``G[b, i, j] = Σ_p F[b, i, p] F[b, j, p] / (C·H·W)``."""
    batch, channels, height, width = features.shape
    flat = features.reshape(batch, channels, height * width)
    return flat @ flat.transpose(1, 2) / (channels * height * width)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of two activations of the same shape."""
    return F.mse_loss(features, target)


def style_loss(features: Mapping[str, torch.Tensor], target_grams: Mapping[str, torch.Tensor],
               weights: Mapping[str, float]) -> torch.Tensor:
    """``Σ_l w_l · MSE(G_l(x), G_l(style))`` over the layers of ``weights``; ``target_grams`` holds ``G_l(style)``."""
    terms = [weight * F.mse_loss(gram_matrix(features[name]), target_grams[name]) for name, weight in weights.items()]
    return torch.stack(terms).sum()


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation of ``[B, C, H, W]`` images: mean squared vertical plus mean squared horizontal difference of
    neighbouring pixels (0 for a constant image; a 1×1 image has no neighbours and gives 0)."""
    down = image[..., 1:, :] - image[..., :-1, :]
    right = image[..., :, 1:] - image[..., :, :-1]
    zero = image.new_zeros(())
    return (down.square().mean() if down.numel() else zero) + (right.square().mean() if right.numel() else zero)
