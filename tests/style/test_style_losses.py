"""The loss terms against direct computations and hand values."""

from __future__ import annotations

import pytest
import torch

from trainlab.style.losses import content_loss, gram_matrix, style_loss, tv_loss


def test_gram_matrix_equals_einsum_and_a_loop() -> None:
    torch.manual_seed(0)
    features = torch.randn(2, 5, 4, 3)
    _, channels, height, width = features.shape
    expected = torch.einsum("bihw,bjhw->bij", features, features) / (channels * height * width)
    assert torch.allclose(gram_matrix(features), expected, atol=1e-6)
    looped = torch.zeros(channels, channels)
    for i in range(channels):
        for j in range(channels):
            looped[i, j] = (features[1, i] * features[1, j]).sum() / (channels * height * width)
    assert torch.allclose(gram_matrix(features)[1], looped, atol=1e-6)


def test_gram_matrix_is_symmetric_and_of_channels_squared() -> None:
    gram = gram_matrix(torch.randn(1, 7, 6, 6))
    assert gram.shape == (1, 7, 7)
    assert torch.allclose(gram, gram.transpose(1, 2))


def test_gram_normalization_makes_a_tiled_texture_match_its_tile() -> None:
    """Dividing by H·W: a feature map repeated 2×2 has the same Gram matrix as one copy."""
    tile = torch.randn(1, 3, 4, 4)
    assert torch.allclose(gram_matrix(tile.repeat(1, 1, 2, 2)), gram_matrix(tile), atol=1e-6)


def test_style_and_content_losses_are_zero_for_identical_features() -> None:
    torch.manual_seed(1)
    features = {"relu1_1": torch.randn(1, 4, 8, 8), "relu2_1": torch.randn(1, 8, 4, 4)}
    grams = {name: gram_matrix(value) for name, value in features.items()}
    assert style_loss(features, grams, {"relu1_1": 1.0, "relu2_1": 0.5}).item() == 0.0
    assert content_loss(features["relu2_1"], features["relu2_1"].clone()).item() == 0.0


def test_style_loss_is_the_weighted_sum_of_gram_mses() -> None:
    torch.manual_seed(2)
    ours = {"a": torch.randn(1, 3, 4, 4), "b": torch.randn(1, 2, 2, 2)}
    theirs = {"a": torch.randn(1, 3, 4, 4), "b": torch.randn(1, 2, 2, 2)}
    grams = {name: gram_matrix(value) for name, value in theirs.items()}
    expected = sum(weight * ((gram_matrix(ours[name]) - grams[name]) ** 2).mean()
                   for name, weight in (("a", 2.0), ("b", 0.5)))
    assert style_loss(ours, grams, {"a": 2.0, "b": 0.5}).item() == pytest.approx(float(expected), rel=1e-6)


def test_content_loss_is_the_mean_squared_difference() -> None:
    assert content_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])).item() == pytest.approx(2.5)


def test_tv_loss_of_a_constant_image_is_zero() -> None:
    assert tv_loss(torch.full((1, 3, 5, 7), 0.3)).item() == 0.0


def test_tv_loss_of_a_2x2_image_by_hand() -> None:
    """[[0, 1], [2, 4]]: vertical differences 2 and 3 (mean square 6.5), horizontal 1 and 2 (mean square 2.5)."""
    image = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
    assert tv_loss(image).item() == pytest.approx(9.0)


def test_tv_loss_of_a_single_pixel_is_zero() -> None:
    assert tv_loss(torch.ones(1, 3, 1, 1)).item() == 0.0
