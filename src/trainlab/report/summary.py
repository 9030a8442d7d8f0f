"""Model summary text (torchinfo, laid out like torchsummary) and its totals as numbers.

torch and torchinfo are imported inside the functions so that rendering a report from disk does not pay for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn
    from torchinfo import ModelStatistics

# Deep enough to reach every leaf layer of the VGG/ResNet/RNN families (ResNet: model > layer1 > block > conv).
SUMMARY_DEPTH = 10


@contextmanager
def _preserved(model: nn.Module) -> Iterator[None]:
    """Restore every module's train/eval flag and the model's device after the block."""
    modes = {module: module.training for module in model.modules()}
    tensors = [*model.parameters(), *model.buffers()]
    original_device = tensors[0].device if tensors else None
    try:
        yield
    finally:
        if original_device is not None:
            model.to(original_device)
        for module, training in modes.items():
            module.training = training


def _statistics(model: nn.Module, input_size: tuple[int, ...] | None, device: str,
                input_data: Sequence[Any] | None = None) -> ModelStatistics:
    import torchinfo

    with _preserved(model):
        return torchinfo.summary(
            model,
            input_size=input_size,
            input_data=list(input_data) if input_data is not None else None,
            col_names=("output_size", "num_params"),
            row_settings=("depth", "var_names"),
            depth=SUMMARY_DEPTH,
            device=device,
            verbose=0,
        )


def model_summary(model: nn.Module, input_size: tuple[int, ...] | None, device: str = "cpu",
                  input_data: Sequence[Any] | None = None) -> str:
    """The layer-by-layer summary of ``model`` for one batch of ``input_size`` (batch dimension included), or for the
    tensors ``input_data`` (models of several inputs, e.g. token ids and lengths).

    Each layer is listed with its output shape and parameter count, followed by the parameter totals and the
    "Input size (MB)", "Forward/backward pass size (MB)", "Params size (MB)" and "Estimated Total Size (MB)" lines.
    The model is left in the train/eval mode and on the device it came in with.
    """
    text = str(_statistics(model, input_size, device, input_data))
    # torchinfo 1.8 formats the mult-adds unit as "(Units.MEGABYTES)" on Python 3.11+; print it as "(M)".
    from torchinfo.enums import Units

    for unit in Units:
        text = text.replace(f"({unit.__class__.__name__}.{unit.name})", f"({unit.value})")
    return text


def summary_stats(model: nn.Module, input_size: tuple[int, ...], device: str = "cpu") -> dict[str, Any]:
    """The totals of :func:`model_summary` as numbers (sizes in MB, unrounded; the text shows 2 decimals)."""
    stats = _statistics(model, input_size, device)
    megabytes = stats.to_megabytes
    return {
        "total_params": int(stats.total_params),
        "trainable_params": int(stats.trainable_params),
        "input_size_mb": float(megabytes(stats.total_input)),
        "forward_backward_pass_size_mb": float(megabytes(stats.total_output_bytes)),
        "params_size_mb": float(megabytes(stats.total_param_bytes)),
        "estimated_total_size_mb": float(
            megabytes(stats.total_input + stats.total_output_bytes + stats.total_param_bytes)
        ),
    }
