from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlab.report import model_summary
from trainlab.report.summary import summary_stats


def _tiny() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))


TOTAL = (3 * 4 * 9 + 4) + (4 * 6 * 6 * 5 + 5)  # 837


def test_model_summary_text() -> None:
    model = _tiny()
    assert sum(p.numel() for p in model.parameters()) == TOTAL
    text = model_summary(model, (2, 3, 8, 8))
    for name in ("Conv2d", "ReLU", "Flatten", "Linear", "[2, 4, 6, 6]", "[2, 144]", "[2, 5]", "112", "725"):
        assert name in text, name
    assert f"Total params: {TOTAL:,}" in text
    assert f"Trainable params: {TOTAL:,}" in text
    for line in ("Input size (MB)", "Forward/backward pass size (MB)", "Params size (MB)", "Estimated Total Size (MB)"):
        assert line in text
    assert "Units." not in text  # torchinfo's enum repr is cleaned up
    assert text.rstrip().endswith("=" * 10)


def test_summary_stats_numbers() -> None:
    model = _tiny()
    model[0].requires_grad_(False)
    stats = summary_stats(model, (2, 3, 8, 8))
    assert stats["total_params"] == TOTAL
    assert stats["trainable_params"] == TOTAL - 112
    assert stats["params_size_mb"] == pytest.approx(TOTAL * 4 / 1e6)
    # torchinfo counts the input tensor object itself (sys.getsizeof), so this is slightly above 2*3*8*8*4 bytes.
    assert stats["input_size_mb"] >= 2 * 3 * 8 * 8 * 4 / 1e6
    text = model_summary(model, (2, 3, 8, 8))
    for key, label in (
        ("input_size_mb", "Input size"),
        ("forward_backward_pass_size_mb", "Forward/backward pass size"),
        ("params_size_mb", "Params size"),
        ("estimated_total_size_mb", "Estimated Total Size"),
    ):
        assert f"{label} (MB): {stats[key]:0.2f}" in text
    total = stats["input_size_mb"] + stats["forward_backward_pass_size_mb"] + stats["params_size_mb"]
    assert stats["estimated_total_size_mb"] == pytest.approx(total)


def test_mode_is_preserved() -> None:
    model = _tiny().train()
    model[3].eval()  # mixed modes survive too
    model_summary(model, (1, 3, 8, 8))
    assert model.training and model[0].training and not model[3].training
    model.eval()
    model_summary(model, (1, 3, 8, 8))
    assert not any(m.training for m in model.modules())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_is_preserved() -> None:
    model = _tiny()
    model_summary(model, (1, 3, 8, 8), device="cuda")
    assert next(model.parameters()).device.type == "cpu"
    model.cuda()
    model_summary(model, (1, 3, 8, 8), device="cpu")
    assert next(model.parameters()).device.type == "cuda"
