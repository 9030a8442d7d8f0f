"""training.compile: equal outputs compiled or not, state_dict keys kept, and the fallback to eager."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from trainlab.config import TrainingConfig, load_recipe
from trainlab.models import build_model
from trainlab.train.compile import COMPILED, compile_in_place
from trainlab.train.runtime import resolve_runtime
from trainlab.train.study import run_study


def _quiet(_: str) -> None:
    pass


def test_auto_compiles_on_cuda_only() -> None:
    assert resolve_runtime(TrainingConfig(accelerator="cpu")).compile is False
    assert resolve_runtime(TrainingConfig(accelerator="cpu", compile=True)).compile is True


def test_a_failed_compilation_runs_eager_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    model = build_model("resnet18", in_channels=1, num_classes=2, image_size=16, width=0.125).eval()
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        eager = model(x)

    def broken_compile(self: torch.nn.Module, *args: object, **kwargs: object) -> None:
        def fails(*_: object, **__: object) -> None:
            raise RuntimeError("no C++ compiler found")
        self._compiled_call_impl = fails

    monkeypatch.setattr(torch.nn.Module, "compile", broken_compile)
    note = compile_in_place(model, (torch.zeros(1, 1, 16, 16),))
    assert note.startswith("torch.compile failed, ran eager (RuntimeError: no C++ compiler found")
    with torch.no_grad():
        assert torch.equal(model(x), eager)  # eager again, and the trial changed nothing


def test_compile_on_and_off_give_equal_outputs_and_updates() -> None:
    """The same model, eager and compiled in place: equal outputs after three SGD steps (BatchNorm statistics too)."""
    torch.manual_seed(0)
    base = build_model("vgg13", in_channels=1, num_classes=10, image_size=32, width=0.125, options={"batch_norm": True})
    x, y = torch.randn(16, 1, 32, 32), torch.randint(0, 10, (16,))
    trained = {}
    for compiled in (False, True):
        model = copy.deepcopy(base)
        if compiled:
            assert compile_in_place(model, (x[:1],)) == COMPILED
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for _ in range(3):
            loss = torch.nn.functional.cross_entropy(model.train()(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            trained[compiled] = (model.eval()(x), model.features[1].running_mean.clone(), list(model.state_dict()))
    eager, compiled_run = trained[False], trained[True]
    assert (eager[0] - compiled_run[0]).abs().max() < 1e-4
    assert (eager[1] - compiled_run[1]).abs().max() < 1e-6
    assert eager[2] == compiled_run[2]  # compiled in place: the state_dict keys have no _orig_mod. prefix


def test_a_compiled_run_records_it(tmp_path: Path) -> None:
    recipe = load_recipe("digits-demo", [
        "study.mode=single", "training.epochs=1", "training.progress_bar=false", "study.baselines=[]",
        "training.compile=true", f"output.dir={tmp_path}", f"output.cache_dir={tmp_path / 'cache'}"])
    run = run_study(recipe, notify=_quiet)
    metrics = json.loads((run / "base" / "metrics.json").read_text())
    assert metrics["notes"]["compile"] == COMPILED and metrics["runtime"]["compile"] is True
    assert "compiled with torch.compile" in (run / "report.md").read_text()
    state = torch.load(run / "base" / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    assert "model.features.0.weight" in state
