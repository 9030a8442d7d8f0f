"""Batched augmentation and batch preparation."""

from __future__ import annotations

import pytest
import torch

from trainlab.config import AugmentationConfig
from trainlab.data import BatchAugment, prepare_batch


def batch(n: int = 6, c: int = 3, h: int = 12, w: int = 12, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed))


def augment(**kwargs: object) -> BatchAugment:
    return BatchAugment(AugmentationConfig(**kwargs))


def test_full_crop_without_flip_is_identity() -> None:
    x = batch(h=10, w=14)
    out = augment(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), hflip=0.0)(x)
    assert torch.allclose(out, x, atol=1e-5)


def test_certain_flip_with_full_crop_is_a_mirror() -> None:
    x = batch()
    out = augment(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), hflip=1.0)(x)
    assert torch.allclose(out, torch.flip(x, dims=[3]), atol=1e-5)


def test_certain_grayscale_equalizes_channels() -> None:
    x = batch()
    out = augment(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), hflip=0.0, grayscale=1.0)(x)
    assert torch.allclose(out[:, 0], out[:, 1]) and torch.allclose(out[:, 1], out[:, 2])
    expected = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    assert torch.allclose(out[:, 0], expected, atol=1e-5)
    one_channel = batch(c=1)
    assert torch.allclose(
        augment(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), hflip=0.0, grayscale=1.0)(one_channel),
        one_channel,
        atol=1e-5,
    )


@pytest.mark.parametrize("shape", [(5, 3, 16, 16), (4, 1, 9, 20), (3, 3, 31, 7)])
def test_output_is_finite_and_shape_preserving(shape: tuple[int, int, int, int]) -> None:
    x = torch.rand(shape)
    out = augment(crop_scale=(0.08, 1.0), crop_ratio=(0.5, 2.0), hflip=0.5, grayscale=0.5)(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_samples_get_independent_crops() -> None:
    x = batch(n=1, h=16, w=16).expand(8, -1, -1, -1)
    out = augment(crop_scale=(0.2, 0.6), hflip=0.0)(x)
    differing = {(i, j) for i in range(8) for j in range(i + 1, 8) if not torch.allclose(out[i], out[j])}
    assert len(differing) == 28


def test_crop_geometry() -> None:
    module = augment(crop_scale=(0.25, 0.25), crop_ratio=(1.0, 1.0), hflip=0.0)
    theta = module.crop_flip_theta(batch(n=100))
    assert torch.allclose(theta[:, 0, 0], torch.full((100,), 0.5))
    assert torch.allclose(theta[:, 1, 1], torch.full((100,), 0.5))
    assert theta[:, :, 2].abs().max() <= 0.5 + 1e-6  # the crop stays inside the image
    assert theta[:, 0, 1].abs().max() == 0 and theta[:, 1, 0].abs().max() == 0


def test_generator_makes_it_reproducible_and_eval_is_identity() -> None:
    module = augment(crop_scale=(0.3, 1.0), hflip=0.5, grayscale=0.5)
    x = batch()
    first = module(x, torch.Generator().manual_seed(5))
    assert torch.equal(first, module(x, torch.Generator().manual_seed(5)))
    assert not torch.equal(first, module(x, torch.Generator().manual_seed(6)))
    module.eval()
    assert torch.equal(module(x), x)


def test_prepare_batch_normalizes() -> None:
    images = torch.full((2, 3, 4, 4), 153, dtype=torch.uint8)
    mean, std = torch.tensor([0.5, 0.6, 0.4]), torch.tensor([0.25, 0.5, 0.1])
    out = prepare_batch(images, mean, std, None, channels_last=False)
    assert out.dtype == torch.float32
    expected = (0.6 - mean) / std
    assert torch.allclose(out, expected.view(1, 3, 1, 1).expand_as(out), atol=1e-6)
    last = prepare_batch(images, [0.5, 0.6, 0.4], [0.25, 0.5, 0.1], None, channels_last=True)
    assert last.is_contiguous(memory_format=torch.channels_last) and torch.allclose(last, out)


def test_prepare_batch_augments_before_normalizing() -> None:
    images = torch.randint(0, 256, (3, 3, 8, 8), dtype=torch.uint8)
    flip = augment(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), hflip=1.0)
    out = prepare_batch(images, torch.zeros(3), torch.ones(3), flip, channels_last=False)
    assert torch.allclose(out, torch.flip(images.float() / 255, dims=[3]), atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_the_gpu_with_a_gpu_generator() -> None:
    x = batch().cuda()
    module = augment(crop_scale=(0.5, 1.0), hflip=0.5, grayscale=0.5)
    first = module(x, torch.Generator(device="cuda").manual_seed(0))
    assert first.is_cuda and first.shape == x.shape and torch.isfinite(first).all()
    assert torch.equal(first, module(x, torch.Generator(device="cuda").manual_seed(0)))
    out = prepare_batch((x * 255).to(torch.uint8), torch.zeros(3), torch.ones(3), module, channels_last=True)
    assert out.is_cuda and out.is_contiguous(memory_format=torch.channels_last)
