"""Where and how a run executes: resolved once from the recipe's "auto" settings and the machine."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass

import torch

from trainlab.config import TrainingConfig
from trainlab.errors import TrainlabError


@dataclass(frozen=True)
class Runtime:
    accelerator: str  # "cpu" or "gpu"
    precision: str  # a Lightning precision string
    channels_last: bool
    deterministic: bool
    device_name: str
    compile: bool = False  # torch.compile the model (training.compile resolved: "auto" is CUDA only)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def resolve_runtime(training: TrainingConfig) -> Runtime:
    """CUDA gets bf16 autocast and channels-last; the CPU gets fp32 and deterministic (bit-reproducible) kernels."""
    wants_gpu = training.accelerator in {"gpu", "cuda"} or (
        training.accelerator == "auto" and torch.cuda.is_available()
    )
    on_gpu = wants_gpu and torch.cuda.is_available()
    if wants_gpu and not on_gpu:
        raise TrainlabError(
            f"training.accelerator={training.accelerator!r} but no CUDA device is visible; use cpu or auto"
        )
    precision = training.precision
    if precision == "auto":
        precision = "bf16-mixed" if on_gpu else "32-true"
    if precision == "16-mixed" and not on_gpu:
        # Lightning would silently train in bf16 instead; say so rather than record a precision that did not run.
        raise TrainlabError("training.precision='16-mixed' needs CUDA (fp16 autocast); on the CPU use 32-true or "
                            "bf16-mixed")
    channels_last = on_gpu if training.channels_last == "auto" else bool(training.channels_last)
    if on_gpu:
        device_name = f"cuda: {torch.cuda.get_device_name(0)}"
    else:
        device_name = f"cpu: {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"
    return Runtime(
        accelerator="gpu" if on_gpu else "cpu",
        precision=precision,
        channels_last=channels_last,
        deterministic=not on_gpu,
        device_name=device_name,
        compile=on_gpu if training.compile == "auto" else bool(training.compile),
    )


def versions() -> dict[str, str]:
    import lightning
    import torchmetrics

    import trainlab

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "torchmetrics": torchmetrics.__version__,
        "trainlab": trainlab.__version__,
        "os": f"{platform.system()} {platform.release()}",
        "cpu_count": str(os.cpu_count()),
    }
