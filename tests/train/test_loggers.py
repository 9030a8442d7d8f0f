"""TensorBoard and MLflow through Lightning's own loggers: what a tiny real study writes is read back with each tool's
own Python API, one point per epoch; a bad logger name or a missing package is one line before any folder exists."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import pytest

from trainlab.config import Recipe, load_recipe
from trainlab.errors import TrainlabError
from trainlab.train import fit as fit_module
from trainlab.train import loggers as loggers_module
from trainlab.train import study as study_module
from trainlab.train.loggers import check_loggers, log_study_artifacts, mlflow_store, run_key
from trainlab.train.study import run_study

TINY = ["data.max_per_class=20", "training.epochs=2", "study.baselines=[]", "training.progress_bar=false"]
TWO_VARIANTS = ["study.mode=one_at_a_time", "study.techniques={l2: {regularization.weight_decay: 0.001}}"]
FOLDERS = {"base": "base", "+l2": "plus-l2"}
HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None
HAS_MLFLOW = all(importlib.util.find_spec(name) is not None for name in ("mlflow", "sqlalchemy", "alembic"))
needs_tensorboard = pytest.mark.skipif(not HAS_TENSORBOARD, reason="tensorboard is not installed "
                                       "(pip install 'trainlab[tensorboard]'; the test extra includes it)")
needs_mlflow = pytest.mark.skipif(not HAS_MLFLOW, reason="mlflow is not installed (pip install 'trainlab[mlflow]'; "
                                  "not in the test extra: about 340 MB from PyPI)")


def _quiet(_: str) -> None:
    pass


def _recipe(root: Path, *overrides: str, store: Path | None = None) -> Recipe:
    where = [f"output.dir={root / 'runs'}", f"output.cache_dir={root / 'cache'}"]
    if store is not None:
        where.append(f"output.mlflow_uri={store}")
    return load_recipe("digits-demo", [*TINY, *where, *overrides])


def _installed_loggers() -> str:
    names = ["csv"] + ["tensorboard"] * HAS_TENSORBOARD + ["mlflow"] * HAS_MLFLOW
    return f"output.loggers=[{', '.join(names)}]"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite store for the module (a new MLflow database takes seconds to migrate)."""
    return tmp_path_factory.mktemp("mlflow") / "mlflow.db"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory, store: Path) -> tuple[Recipe, Path, list[str]]:
    """A two-variant study with every installed logger; returns (recipe, run folder, network calls attempted)."""
    recipe = _recipe(tmp_path_factory.mktemp("study"), *TWO_VARIANTS, _installed_loggers(), store=store)
    attempts: list[str] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family != socket.AF_UNIX:
            attempts.append(f"connect {address}")
        return real_connect(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(f"getaddrinfo {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        check_loggers(recipe)
        run_dir = run_study(recipe, notify=_quiet)
        log_study_artifacts(run_dir, recipe)  # harmless if the study runner already did: it updates the same run
    return recipe, run_dir, attempts


def _history(run_dir: Path, variant: str) -> pd.DataFrame:
    return pd.read_csv(run_dir / FOLDERS[variant] / "history.csv")


def test_no_logger_reaches_the_network(study: tuple[Recipe, Path, list[str]]) -> None:
    assert study[2] == []


@needs_tensorboard
def test_tensorboard_reads_back_each_variant_as_a_run(study: tuple[Recipe, Path, list[str]]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer

    _, run_dir, _ = study
    # What `tensorboard --logdir runs/<study>/<stamp>` lists: one run per variant (and seed), under logs/tensorboard.
    runs = EventMultiplexer().AddRunsFromDirectory(str(run_dir)).Runs()
    assert sorted(runs) == ["base/logs/tensorboard", "plus-l2/logs/tensorboard"]
    for variant, folder in FOLDERS.items():
        events = EventAccumulator(str(run_dir / folder / "logs" / "tensorboard"))
        events.Reload()
        history = _history(run_dir, variant)
        for tag in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
            scalars = events.Scalars(tag)
            # one point per epoch: the train/val scores trainlab takes after fitting are not appended to the curves
            assert len(scalars) == 2, (variant, tag, scalars)
            assert [s.value for s in scalars] == pytest.approx(history[tag].tolist(), rel=1e-6)
            assert scalars[0].step < scalars[1].step
        (test_loss,) = events.Scalars("test_loss")
        metrics = json.loads((run_dir / folder / "metrics.json").read_text())
        assert test_loss.value == pytest.approx(metrics["test"]["loss"], rel=1e-6)


@needs_mlflow
def test_mlflow_lists_the_experiment_a_run_per_variant_and_histories(study: tuple[Recipe, Path, list[str]],
                                                                      store: Path) -> None:
    loggers_module._import_mlflow()
    from mlflow.tracking import MlflowClient

    recipe, run_dir, _ = study
    assert mlflow_store(recipe).uri == f"sqlite:///{store}"
    client = MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("digits-demo")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], "tags.`trainlab.role` = 'variant'")
    assert sorted(run.info.run_name for run in runs) == ["+l2", "base"]
    (parent,) = client.search_runs([experiment.experiment_id], "tags.`trainlab.role` = 'study'")
    assert parent.info.run_name == f"digits-demo {run_dir.name}" and parent.info.status == "FINISHED"
    assert {"report.html", "report.md", "recipe.yaml", "study.json", "plots"} <= {
        item.path for item in client.list_artifacts(parent.info.run_id)}
    for run in runs:
        variant, folder = run.info.run_name, FOLDERS[run.info.run_name]
        assert run.info.status == "FINISHED" and run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["trainlab.folder"] == str((run_dir / folder).resolve())
        history = _history(run_dir, variant)
        for key in ("val_loss", "train_loss"):
            points = client.get_metric_history(run.info.run_id, key)
            assert [p.value for p in sorted(points, key=lambda p: p.step)] == pytest.approx(history[key].tolist(),
                                                                                             rel=1e-6)
        metrics = json.loads((run_dir / folder / "metrics.json").read_text())
        assert run.data.metrics["test_accuracy"] == pytest.approx(metrics["test"]["accuracy"])
        assert run.data.metrics["test_loss"] == pytest.approx(metrics["test"]["loss"], rel=1e-6)
        assert run.data.params["training.epochs"] == "2" and run.data.params["study.mode"] == "one_at_a_time"
        weight_decay = float(run.data.params["regularization.weight_decay"])
        assert weight_decay == (0.001 if variant == "+l2" else 0.0)
        artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
        assert {"config.yaml", "metrics.json", "history.csv", "plots"} <= artifacts
        config = client.download_artifacts(run.info.run_id, "config.yaml")
        assert Path(config).read_text() == (run_dir / folder / "config.yaml").read_text()
    assert log_study_artifacts(run_dir, recipe) == parent.info.run_id  # again: the same parent, no new runs
    assert len(client.search_runs([experiment.experiment_id], f"tags.`trainlab.folder` LIKE '{run_dir}%'")) == 3


class _CtrlC(L.Callback):
    """Ctrl-C at the second batch of the second epoch."""

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: object,
                             batch_idx: int) -> None:
        if trainer.current_epoch == 1 and batch_idx == 1:
            raise KeyboardInterrupt


@pytest.mark.skipif(not (HAS_TENSORBOARD or HAS_MLFLOW), reason="neither tensorboard nor mlflow is installed")
def test_a_resumed_run_continues_its_tensorboard_folder_and_mlflow_run(tmp_path: Path, store: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = _recipe(tmp_path, "study.mode=single", _installed_loggers(), store=store)
    original = fit_module._Callbacks.__init__

    def with_ctrl_c(self: Any, recipe: Recipe, out_dir: Path, model: Any) -> None:
        original(self, recipe, out_dir, model)
        self.all.append(_CtrlC())

    with monkeypatch.context() as patch:
        patch.setattr(fit_module._Callbacks, "__init__", with_ctrl_c)
        with pytest.raises(study_module.StudyInterrupted) as interrupted:
            run_study(recipe, notify=_quiet)
    run_dir = Path(str(interrupted.value.run_dir))
    # a changed resume-free key (here the progress bar) must not clash with the params the run already holds
    run_study(recipe.with_overrides({"training.progress_bar": True}), resume=run_dir, notify=_quiet)
    # one point per epoch across both sessions, in one TensorBoard folder and one MLflow run
    expected = _history(run_dir, "base")["val_loss"].tolist()
    assert len(expected) == 2
    if HAS_TENSORBOARD:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        events = EventAccumulator(str(run_dir / "base" / "logs" / "tensorboard"))
        events.Reload()
        assert [s.value for s in events.Scalars("val_loss")] == pytest.approx(expected, rel=1e-6)
    if HAS_MLFLOW:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(mlflow_store(recipe).uri)
        experiment = client.get_experiment_by_name("digits-demo")
        assert experiment is not None
        key = run_key(run_dir / "base")
        (run,) = client.search_runs([experiment.experiment_id], f"tags.`trainlab.key` = '{key}'")
        points = sorted(client.get_metric_history(run.info.run_id, "val_loss"), key=lambda p: p.step)
        assert [p.value for p in points] == pytest.approx(expected, rel=1e-6) and run.info.status == "FINISHED"


def test_csv_is_always_on_and_names_are_checked(tmp_path: Path) -> None:
    assert _recipe(tmp_path).output.loggers == ["csv"]
    assert _recipe(tmp_path, "output.loggers=[tensorboard]").output.loggers == ["csv", "tensorboard"]
    assert _recipe(tmp_path, "output.loggers=mlflow").output.loggers == ["csv", "mlflow"]
    assert _recipe(tmp_path, "output.loggers=[mlflow, csv, mlflow]").output.loggers == ["csv", "mlflow"]
    with pytest.raises(TrainlabError) as error:
        _recipe(tmp_path, "output.loggers=[csv, wandb]")
    message = str(error.value)
    assert "output.loggers: unknown logger 'wandb'; known loggers: csv, tensorboard, mlflow" in message
    assert "\n" not in message and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("uri", ["http://localhost:5000", "https://mlflow.example.com", "databricks://profile",
                                 "file:///tmp/x", "sqlite://", "postgresql://user@host/db", "runs/mlflow/"])
def test_mlflow_store_must_be_a_local_sqlite_database(tmp_path: Path, uri: str) -> None:
    with pytest.raises(TrainlabError, match=r"output\.mlflow_uri: must be an SQLite database on this machine"):
        _recipe(tmp_path, f"output.mlflow_uri={uri}")


def test_mlflow_store_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert mlflow_store(_recipe(Path("here"))).database == tmp_path / "here" / "runs" / "mlflow" / "mlflow.db"
    assert mlflow_store(_recipe(tmp_path, store=Path("a/b.db"))).uri == f"sqlite:///{tmp_path / 'a' / 'b.db'}"
    absolute = mlflow_store(_recipe(tmp_path, "output.mlflow_uri=sqlite:////srv/m.db"))
    assert absolute.database == Path("/srv/m.db") and absolute.artifact_location == "file:///srv/mlartifacts"


def _one_line_error(action: Callable[[], object]) -> str:
    with pytest.raises(TrainlabError) as error:
        action()
    assert "\n" not in str(error.value)
    return str(error.value)


@pytest.mark.parametrize(("logger", "module", "hint"), [
    ("tensorboard", "tensorboard", "pip install 'trainlab[tensorboard]'"),
    ("mlflow", "mlflow", "pip install 'trainlab[mlflow]'"),
    ("mlflow", "sqlalchemy", "pip install 'trainlab[mlflow]'"),
])
def test_a_missing_package_is_one_line_saying_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              logger: str, module: str, hint: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now fails as if it were not installed
    recipe = _recipe(tmp_path, f"output.loggers=[{logger}]")
    message = _one_line_error(lambda: check_loggers(recipe))
    assert f"output.loggers includes '{logger}'" in message and message.endswith(hint)
    assert not (tmp_path / "runs").exists()


def test_run_study_refuses_a_missing_package_before_any_folder(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    recipe = _recipe(tmp_path, "output.loggers=[tensorboard]")
    message = _one_line_error(lambda: run_study(recipe, notify=_quiet))
    assert message.endswith("pip install 'trainlab[tensorboard]'") and not (tmp_path / "runs").exists()


@needs_mlflow
def test_mlflow_store_under_a_file_is_refused_before_any_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    recipe = _recipe(tmp_path, "output.loggers=[mlflow]", store=tmp_path / "file" / "mlflow.db")
    assert "output.mlflow_uri" in _one_line_error(lambda: check_loggers(recipe))
    (tmp_path / "folder.db").mkdir()
    recipe = _recipe(tmp_path, "output.loggers=[mlflow]", store=tmp_path / "folder.db")
    assert "is a folder" in _one_line_error(lambda: check_loggers(recipe))
    assert not (tmp_path / "runs").exists()


def test_csv_alone_imports_neither_package() -> None:
    code = ("import sys; from trainlab.config import load_recipe; from trainlab.train.loggers import check_loggers; "
            "import trainlab.train.fit; check_loggers(load_recipe('digits-demo')); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorboard', 'mlflow', 'sqlalchemy'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.skipif(sys.platform != "linux" or not (HAS_TENSORBOARD or HAS_MLFLOW),
                    reason="torchrun with gloo on Linux, with tensorboard or mlflow installed")
def test_under_ddp_only_rank_zero_writes_logs(tmp_path: Path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [
        str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "trainlab.cli", "run", "digits-demo",
        "--out", str(tmp_path / "runs"), "--set", f"output.cache_dir={tmp_path / 'cache'}",
        "--set", "study.mode=single", "--set", "study.baselines=[]", "--set", "data.max_per_class=20",
        "--set", "training.epochs=2", "--set", "training.devices=2", "--set", "training.strategy=ddp",
        "--set", "training.accelerator=cpu", "--set", "training.progress_bar=false", "--set", _installed_loggers(),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs" / "digits-demo").iterdir()
    expected = pd.read_csv(run_dir / "base" / "history.csv")["val_loss"].tolist()
    if HAS_TENSORBOARD:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        # event files are named ...tfevents.<time>.<host>.<pid>.<n>: every one of them from a single process
        events = list((run_dir / "base" / "logs" / "tensorboard").glob("events.out.tfevents.*"))
        assert events and len({path.name.split(".")[-2] for path in events}) == 1
        accumulator = EventAccumulator(str(run_dir / "base" / "logs" / "tensorboard"))
        accumulator.Reload()
        assert [s.value for s in accumulator.Scalars("val_loss")] == pytest.approx(expected, rel=1e-6)
    if HAS_MLFLOW:
        loggers_module._import_mlflow()
        from mlflow.tracking import MlflowClient

        client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow' / 'mlflow.db'}")
        experiment = client.get_experiment_by_name("digits-demo")
        assert experiment is not None
        (run,) = client.search_runs([experiment.experiment_id], "tags.`trainlab.role` = 'variant'")
        points = sorted(client.get_metric_history(run.info.run_id, "val_loss"), key=lambda p: p.step)
        assert [p.value for p in points] == pytest.approx(expected, rel=1e-6)
