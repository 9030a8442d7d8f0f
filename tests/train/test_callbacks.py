"""trainlab's own Lightning callbacks and the runtime choice, unit by unit (no Trainer needed)."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from trainlab.config import TrainingConfig
from trainlab.errors import TrainlabError
from trainlab.models import build_model
from trainlab.train import runtime as runtime_module
from trainlab.train.callbacks import (
    DivergenceGuard,
    FrozenBackbone,
    HistoryRecorder,
    TrainingDiverged,
    TrainThroughput,
)
from trainlab.train.runtime import resolve_runtime


def _trainer(**fields: Any) -> Any:
    cpu = SimpleNamespace(root_device=torch.device("cpu"))
    defaults: dict[str, Any] = {"strategy": cpu, "world_size": 1, "current_epoch": 0, "training": False,
                                "state": SimpleNamespace(fn="fit"), "global_step": 0, "callback_metrics": {}}
    return SimpleNamespace(**{**defaults, **fields})


def test_throughput_keeps_the_first_epoch_apart_and_scales_by_world_size(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 10.0, 10.0, 12.0, 12.0, 14.0])  # epoch 1 takes 10 s (warm-up), epochs 2 and 3 take 2 s each
    monkeypatch.setattr("trainlab.train.callbacks.time.perf_counter", lambda: next(clock))
    meter, trainer = TrainThroughput(), _trainer(world_size=2)
    labels = torch.zeros(50)
    for epoch in range(3):
        trainer.current_epoch = epoch
        meter.on_train_epoch_start(trainer, None)  # type: ignore[arg-type]
        for _ in range(4):
            meter.on_train_batch_end(trainer, None, None, (None, labels), 0)  # type: ignore[arg-type]
        meter.on_train_epoch_end(trainer, None)  # type: ignore[arg-type]
    assert (meter.first_epoch_samples, meter.first_epoch_seconds) == (200, 10.0)
    assert (meter.samples, meter.seconds) == (400, 4.0)
    assert meter.images_per_second == 400 * 2 / 4.0  # 200 images/s per process, two processes


def test_throughput_of_a_single_epoch_is_that_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 4.0])
    monkeypatch.setattr("trainlab.train.callbacks.time.perf_counter", lambda: next(clock))
    meter, trainer = TrainThroughput(), _trainer()
    meter.on_train_epoch_start(trainer, None)  # type: ignore[arg-type]
    meter.on_train_batch_end(trainer, None, None, (None, torch.zeros(32)), 0)  # type: ignore[arg-type]
    meter.on_validation_epoch_start(trainer, None)  # type: ignore[arg-type]  (validation time is not counted)
    meter.on_train_epoch_end(trainer, None)  # type: ignore[arg-type]
    assert meter.images_per_second == 8.0
    assert TrainThroughput().images_per_second == 0.0


def test_history_has_one_row_per_epoch_and_survives_a_checkpoint() -> None:
    recorder = HistoryRecorder()
    for epoch, loss in enumerate((1.5, 0.9)):
        logged = {"train_loss": torch.tensor(loss), "train_accuracy": torch.tensor(0.5 + epoch / 10),
                  "val_loss": torch.tensor(loss + 0.1), "lr": torch.tensor(0.01)}  # no val_accuracy logged
        recorder.on_train_epoch_end(_trainer(current_epoch=epoch, callback_metrics=logged), None)  # type: ignore[arg-type]
    restored = HistoryRecorder()
    restored.load_state_dict(recorder.state_dict())
    frame = restored.frame()
    assert list(frame.columns) == ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"]
    assert frame["epoch"].tolist() == [1, 2] and frame["train_loss"].tolist() == pytest.approx([1.5, 0.9])
    assert frame["val_loss"].tolist() == pytest.approx([1.6, 1.0]) and frame["val_accuracy"].isna().all()


def _optimizer(lr: float) -> list[Any]:
    return [SimpleNamespace(param_groups=[{"lr": lr}])]


def test_divergence_guard_names_the_first_bad_batch_and_the_epochs_lr() -> None:
    guard = DivergenceGuard(check_every=100)
    trainer = _trainer(current_epoch=1, optimizers=_optimizer(0.5))
    guard.on_train_epoch_start(trainer, None)  # type: ignore[arg-type]
    for index, loss in enumerate([1.0, math.inf, math.nan, 2.0]):
        guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(loss)}, None, index)  # type: ignore[arg-type]
    with pytest.raises(TrainingDiverged) as caught:
        guard.on_train_epoch_end(trainer, None)  # type: ignore[arg-type]
    assert str(caught.value) == ("the training loss became NaN or infinite at epoch 2, batch 2 (lr 0.5); "
                                 "lower training.lr or check the data")
    assert (caught.value.epoch, caught.value.batch, caught.value.lr) == (2, 2, 0.5)
    assert isinstance(caught.value, TrainlabError)
    # a new epoch starts counting again: finite losses pass
    guard.on_train_epoch_start(trainer, None)  # type: ignore[arg-type]
    guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(0.1)}, None, 0)  # type: ignore[arg-type]
    guard.on_train_epoch_end(trainer, None)  # type: ignore[arg-type]


def test_divergence_guard_reads_the_device_only_every_check_every_batches() -> None:
    guard = DivergenceGuard(check_every=3)
    trainer = _trainer(optimizers=_optimizer(0.1))
    guard.on_train_epoch_start(trainer, None)  # type: ignore[arg-type]
    guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(math.nan)}, None, 0)  # type: ignore[arg-type]
    guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(1.0)}, None, 1)  # type: ignore[arg-type]
    with pytest.raises(TrainingDiverged, match="at epoch 1, batch 1 "):
        guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(1.0)}, None, 2)  # type: ignore[arg-type]


def test_divergence_guard_passes_finite_losses_and_stops_on_a_nan_validation_loss() -> None:
    guard = DivergenceGuard(check_every=1)
    trainer = _trainer(optimizers=_optimizer(0.1), callback_metrics={"val_loss": torch.tensor(0.7)})
    guard.on_train_epoch_start(trainer, None)  # type: ignore[arg-type]
    guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(0.3)}, None, 0)  # type: ignore[arg-type]
    guard.on_validation_end(trainer, None)  # type: ignore[arg-type]
    trainer.callback_metrics = {"val_loss": torch.tensor(math.nan)}
    with pytest.raises(TrainingDiverged, match=r"the validation loss became nan at epoch 1 \(lr 0\.1\)"):
        guard.on_validation_end(trainer, None)  # type: ignore[arg-type]


def test_runtime_cpu_is_fp32_and_deterministic_and_gpu_gets_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module.torch.cuda, "is_available", lambda: False)
    cpu = resolve_runtime(TrainingConfig())
    assert (cpu.accelerator, cpu.precision, cpu.channels_last, cpu.deterministic) == ("cpu", "32-true", False, True)
    with pytest.raises(TrainlabError, match=r"training\.accelerator='gpu' but no CUDA device is visible"):
        resolve_runtime(TrainingConfig(accelerator="gpu"))
    with pytest.raises(TrainlabError, match="'16-mixed' needs CUDA"):
        resolve_runtime(TrainingConfig(precision="16-mixed"))
    assert resolve_runtime(TrainingConfig(precision="bf16-mixed", channels_last=True)).channels_last is True
    monkeypatch.setattr(runtime_module.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(runtime_module.torch.cuda, "get_device_name", lambda index: "Pretend GPU")
    gpu = resolve_runtime(TrainingConfig())
    assert (gpu.accelerator, gpu.precision, gpu.channels_last, gpu.deterministic) == ("gpu", "bf16-mixed", True, False)
    assert gpu.device_name == "cuda: Pretend GPU"
    assert resolve_runtime(TrainingConfig(accelerator="cpu")).accelerator == "cpu"


def test_frozen_backbone_keeps_frozen_batch_norm_in_eval_mode(tmp_path: Any) -> None:
    source = build_model("resnet18", in_channels=3, num_classes=2, image_size=32, width=0.125)
    for module in source.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
    torch.save(source.state_dict(), tmp_path / "weights.pt")
    model = build_model("resnet18", in_channels=3, num_classes=2, image_size=32, width=0.125,
                        options={"weights": str(tmp_path / "weights.pt"), "freeze": True})
    module, callback = SimpleNamespace(model=model), FrozenBackbone()
    callback.freeze_before_training(module)
    model.train()  # what Lightning does at the start of every training epoch
    callback.on_train_epoch_start(_trainer(optimizers=[]), module)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and not any(norm.training for norm in norms) and model.fc.training
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        in_training = model(x)
        # the frozen network computes in training exactly what it computes in evaluation (pretrained statistics,
        # not the batch's), and its running statistics do not move
        assert torch.equal(in_training, model.eval()(x))
    assert torch.equal(norms[0].running_mean, source.stem[1].running_mean)
