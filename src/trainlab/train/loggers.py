"""Lightning's own loggers for each run: CSV always, TensorBoard and MLflow when ``output.loggers`` asks for them.

- ``csv``: Lightning's ``CSVLogger``, ``<run>/logs/version_<session>/metrics.csv`` (trainlab's logs are CSV, so it is
  always on).
- ``tensorboard``: Lightning's ``TensorBoardLogger`` in ``<run>/logs/tensorboard/``, one folder per variant and seed,
  so ``tensorboard --logdir runs/<study>/<stamp>`` shows each as a run. A resumed run appends to its folder.
- ``mlflow``: Lightning's ``MLFlowLogger`` on a local SQLite store (``output.mlflow_uri``, default
  ``<output.dir>/mlflow/mlflow.db``, artifacts in ``mlartifacts/`` beside it):
  experiment = the study's name, one MLflow run per variant and seed (its recipe as params and ``config.yaml``), found
  again by its folder when the run resumes. :func:`log_study_artifacts` then adds one parent run per run folder with
  the report, nests the variant runs under it and attaches each run's files and test scores.

Both extra loggers keep one point per epoch in each history: trainlab scores the train and validation splits again after
fitting (``trainer.validate``), and Lightning would log those scores as extra ``val_loss`` points.
:func:`check_loggers` runs before any folder exists and imports a logger's package only when it is requested. Under DDP
only rank 0 writes: Lightning's TensorBoard logger creates nothing on other ranks, and the MLflow logger (whose client
creates its store when made) is built on rank 0 only. MLflow's telemetry is switched off: nothing leaves the machine.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from lightning.pytorch.loggers import CSVLogger, Logger, MLFlowLogger, TensorBoardLogger
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from trainlab.artifacts import METRICS_FILE, STUDY_FILE, RegressionTestScore, StudyRecord, VariantMetrics, read_record
from trainlab.config import Recipe, Variant
from trainlab.errors import TrainlabError
from trainlab.io import check_writable_dir

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

LOGS_DIR = "logs"
TENSORBOARD_DIR = Path(LOGS_DIR) / "tensorboard"  # in a run's folder
MLFLOW_DATABASE = Path("mlflow") / "mlflow.db"  # in output.dir, when output.mlflow_uri is not set
MLFLOW_ARTIFACTS = "mlartifacts"  # beside the database
# What `pip install` adds for each optional logger (the extras in pyproject.toml).
EXTRAS = {"tensorboard": "tensorboard", "mlflow": "mlflow"}
KEY_TAG = "trainlab.key"  # a hash of the run (or run folder) path: how a resumed run finds its MLflow run again
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own tag: the UI nests a run under its parent
TEST_SCORES = ("accuracy", "precision_macro", "recall_macro", "f1_macro")
REGRESSION_TEST_SCORES = ("wmae", "rmse", "mae", "r2")
MAX_PARAM_CHARS = 500


def _install_hint(name: str) -> str:
    return f"pip install 'trainlab[{EXTRAS[name]}]'"


def _require(name: str, modules: tuple[str, ...]) -> None:
    """Import ``modules`` (the package first) or fail in one line that says what to install."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise TrainlabError(f"output.loggers includes {name!r}, but {module} cannot be imported ({error}); "
                                f"install it with: {_install_hint(name)}") from None


def _import_mlflow() -> ModuleType:
    """``mlflow``, with its usage telemetry off (set before the import reads it): nothing may reach the network."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    mlflow = importlib.import_module("mlflow")
    # "Creating initial MLflow database tables..." and the like: the console keeps to trainlab's own lines.
    for name in ("mlflow.store.db.utils", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return mlflow


@dataclass(frozen=True)
class MlflowStore:
    """Where MLflow writes: an SQLite database (its tracking URI) and the artifacts folder beside it."""

    database: Path

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.database}"

    @property
    def artifact_location(self) -> str:
        return (self.database.parent / MLFLOW_ARTIFACTS).as_uri()


def mlflow_store(recipe: Recipe) -> MlflowStore:
    """``output.mlflow_uri`` (a path or ``sqlite:///`` URI, validated in the recipe; relative to the working folder)
    or ``<output.dir>/mlflow/mlflow.db``, as an absolute database path."""
    uri = recipe.output.mlflow_uri
    if uri is None:
        database = recipe.output.dir / MLFLOW_DATABASE
    else:
        database = Path(uri[len("sqlite:///"):] if uri.lower().startswith("sqlite:///") else uri)
    return MlflowStore(database.expanduser().resolve())


def check_loggers(recipe: Recipe) -> None:
    """Fail now, before any run folder exists, if a requested logger's package is missing or its store is unusable.

    Imports nothing for ``[csv]``; TensorBoard's and MLflow's packages only when they are requested. Creates nothing.
    """
    names = recipe.output.loggers
    if "tensorboard" in names:
        # Lightning writes through torch's SummaryWriter, which needs the tensorboard package (and its protobuf).
        _require("tensorboard", ("tensorboard", "torch.utils.tensorboard"))
    if "mlflow" in names:
        try:
            _import_mlflow()
        except ImportError as error:
            raise TrainlabError(f"output.loggers includes 'mlflow', but mlflow cannot be imported ({error}); "
                                f"install it with: {_install_hint('mlflow')}") from None
        # The SQLite store needs SQLAlchemy and Alembic (part of the extra; mlflow-skinny alone lacks them).
        _require("mlflow", ("mlflow.tracking", "sqlalchemy", "alembic", "mlflow.store.tracking.sqlalchemy_store"))
        database = mlflow_store(recipe).database
        what = "output.mlflow_uri" if recipe.output.mlflow_uri else f"the MLflow store (output.dir/{MLFLOW_DATABASE})"
        if database.is_dir():
            raise TrainlabError(f"{what} {database} is a folder; expected an SQLite database file (e.g. mlflow.db)")
        check_writable_dir(database.parent, what)
        if database.exists() and not os.access(database, os.R_OK | os.W_OK):
            raise TrainlabError(f"{what} {database}: no permission to read and write it")


def run_key(folder: Path) -> str:
    """The tag value that finds a folder's MLflow run again (a hash: safe in a search filter, whatever the path)."""
    return hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:32]


def run_name(variant: Variant) -> str:
    """``+l2`` or, with repeated seeds, ``+l2 seed 1``."""
    recipe = variant.recipe
    return variant.name + (f" seed {recipe.seed}" if recipe.study.repeats > 1 else "")


def recipe_params(recipe: Recipe) -> dict[str, str]:
    """The recipe as MLflow params: dotted keys (``training.lr``), values as YAML-like text (``0.003``, ``null``)."""
    flat: dict[str, str] = {}

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, value in node.items():
            dotted = f"{prefix}{key}"
            if isinstance(value, Mapping) and value:
                walk(value, dotted + ".")
            else:
                text = value if isinstance(value, str) else json.dumps(value)
                safe = "".join(char if char.isalnum() or char in "_-. /" else "_" for char in dotted)
                flat[safe[:250]] = text[:MAX_PARAM_CHARS]

    walk(recipe.to_dict(), "")
    return flat


def _study_folder(out_dir: Path) -> Path | None:
    """The run folder above a variant's folder (``<run>/base`` or ``<run>/base/seed-1``): the one with study.json."""
    for parent in (out_dir.parent, out_dir.parent.parent):
        if (parent / STUDY_FILE).is_file():
            return parent
    return None


def _experiment_id(client: MlflowClient, name: str, store: MlflowStore) -> str:
    """The study's experiment, made (or restored from MLflow's trash) on first use."""
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name, artifact_location=store.artifact_location)
    if found.lifecycle_stage == "deleted":
        client.restore_experiment(found.experiment_id)
    return found.experiment_id


def _find_run(client: MlflowClient, experiment_id: str, key: str) -> str | None:
    runs = client.search_runs([experiment_id], filter_string=f"tags.`{KEY_TAG}` = '{key}'", max_results=1,
                              order_by=["attributes.start_time DESC"])
    return runs[0].info.run_id if runs else None


def _log_params(client: MlflowClient, run_id: str, params: Mapping[str, str]) -> None:
    """Params the run does not hold yet (MLflow refuses to change one; a resume may change e.g. output.dir)."""
    from mlflow.entities import Param

    held = client.get_run(run_id).data.params
    fresh = [Param(key, value) for key, value in params.items() if key not in held]
    for start in range(0, len(fresh), 100):
        client.log_batch(run_id, params=fresh[start : start + 100])


class _FitHistory:
    """Keep each metric's history to one point per training epoch.

    Once fitting has ended (Lightning finalizes its loggers), trainlab scores the train and validation splits again
    with ``trainer.validate``, and Lightning would log both as ``val_loss`` points one step later (the first of them is
    the *train* split's loss). From then on only metrics not logged before pass (``test_loss``); ``metrics.json`` holds
    the final scores. While fitting, a metric logged twice at one step (``epoch``) is kept once.
    """

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        seen: dict[str, int] = self.__dict__.setdefault("_last_steps", {})
        fitting = not self.__dict__.get("_fit_ended", False)
        position = -1 if step is None else step
        fresh = {key: value for key, value in metrics.items()
                 if key not in seen or (fitting and (step is None or position > seen[key]))}
        seen.update(dict.fromkeys(fresh, position))
        if fresh:
            super().log_metrics(fresh, step)  # type: ignore[misc]

    def finalize(self, status: str) -> None:
        self.__dict__["_fit_ended"] = True
        super().finalize(status)  # type: ignore[misc]


class RunTensorBoardLogger(_FitHistory, TensorBoardLogger):
    """Lightning's TensorBoardLogger in ``<run>/logs/tensorboard/`` (a fixed folder, so a resumed run continues it)."""

    def __init__(self, out_dir: Path) -> None:
        super().__init__(save_dir=out_dir / LOGS_DIR, name=TENSORBOARD_DIR.name, version="", default_hp_metric=False)


class RunMLFlowLogger(_FitHistory, MLFlowLogger):
    """Lightning's MLFlowLogger for one run of one variant; on first use it finds the run again (resume) or starts it
    with the recipe as params and ``config.yaml`` as an artifact. Build it on rank 0 only: its client makes the
    store."""

    def __init__(self, variant: Variant, out_dir: Path) -> None:
        _import_mlflow()
        recipe = variant.recipe
        self._store = mlflow_store(recipe)
        self._key = run_key(out_dir)
        self._params = recipe_params(recipe)
        self._config_text = recipe.to_yaml()
        self._started = False
        study_folder = _study_folder(out_dir)
        tags = {
            KEY_TAG: self._key, "trainlab.role": "variant", "trainlab.folder": str(out_dir.resolve()),
            "trainlab.variant": variant.name, "trainlab.techniques": ", ".join(variant.techniques) or "none",
            "trainlab.seed": str(recipe.seed),
        }
        if study_folder is not None:
            tags["trainlab.run_folder"] = str(study_folder.resolve())
        super().__init__(experiment_name=recipe.name, run_name=run_name(variant), tracking_uri=self._store.uri,
                         tags=tags, artifact_location=self._store.artifact_location)

    @property
    @rank_zero_experiment
    def experiment(self) -> MlflowClient:
        if not self._initialized:  # before Lightning's own setup: our experiment, and the run this folder already has
            client = self._mlflow_client
            self._experiment_id = _experiment_id(client, self._experiment_name, self._store)
            self._run_id = self._run_id or _find_run(client, self._experiment_id, self._key)
        client = super().experiment
        if not self._started:
            self._started = True
            assert self._run_id is not None, "Lightning's MLFlowLogger has started or found the run"
            _log_params(client, self._run_id, self._params)
            client.log_text(self._run_id, self._config_text, "config.yaml")
        return client


def build_loggers(variant: Variant, out_dir: Path) -> list[Logger]:
    """The Lightning loggers of one run (one variant, one seed) writing under ``out_dir``: CSV first, so that
    ``trainer.logger`` and ``trainer.log_dir`` stay the CSV logger's."""
    names = variant.recipe.output.loggers
    loggers: list[Logger] = [CSVLogger(save_dir=out_dir, name=LOGS_DIR)]
    if "tensorboard" in names:
        loggers.append(RunTensorBoardLogger(out_dir))
    if "mlflow" in names and rank_zero_only.rank == 0:
        loggers.append(RunMLFlowLogger(variant, out_dir))
    return loggers


def _log_folder(client: MlflowClient, run_id: str, folder: Path) -> None:
    """A folder's files (not its sub-folders) and its ``plots/`` as artifacts of ``run_id``."""
    for path in sorted(folder.iterdir()):
        if path.is_file():
            client.log_artifact(run_id, str(path))
    if (folder / "plots").is_dir():
        client.log_artifacts(run_id, str(folder / "plots"), "plots")


def _log_test_scores(client: MlflowClient, run_id: str, folder: Path) -> None:
    """The run's final scores from metrics.json, at the step of Lightning's ``test_loss`` (after the last epoch)."""
    if not (folder / METRICS_FILE).is_file():
        return  # a failed run: failure.json is among its artifacts
    from mlflow.entities import Metric

    metrics = read_record(folder / METRICS_FILE, VariantMetrics, "the metrics of one trained variant")
    history = client.get_metric_history(run_id, "test_loss") or client.get_metric_history(run_id, "val_loss")
    step = max((point.step for point in history), default=0)
    scores = REGRESSION_TEST_SCORES if isinstance(metrics.test, RegressionTestScore) else TEST_SCORES
    values = {f"test_{name}": float(getattr(metrics.test, name)) for name in scores}
    values["best_epoch"] = float(metrics.best_epoch)
    stamp = int(os.path.getmtime(folder / METRICS_FILE) * 1000)
    client.log_batch(run_id, metrics=[Metric(key, value, stamp, step) for key, value in values.items()])


def log_study_artifacts(run_dir: Path, recipe: Recipe) -> str | None:
    """After the report is rendered: one MLflow parent run for the run folder (its report, recipe and study files),
    the variant runs nested under it, each with its own files (config, metrics, history, plots) and test scores.

    Returns the parent run's id, or None when ``mlflow`` is not among ``output.loggers`` (or on a rank other than 0).
    Calling it again (a resumed study, a re-render) updates the same parent run.
    """
    if "mlflow" not in recipe.output.loggers or rank_zero_only.rank != 0:
        return None
    _import_mlflow()
    from mlflow.tracking import MlflowClient

    store = mlflow_store(recipe)
    client = MlflowClient(store.uri)
    experiment_id = _experiment_id(client, recipe.name, store)
    key = run_key(run_dir)
    parent_id = _find_run(client, experiment_id, key)
    if parent_id is None:
        tags = {KEY_TAG: key, "trainlab.role": "study", "trainlab.folder": str(run_dir.resolve()),
                "mlflow.runName": f"{recipe.name} {run_dir.name}", "mlflow.note.content": recipe.description}
        parent_id = client.create_run(experiment_id, tags=tags).info.run_id
        _log_params(client, parent_id, recipe_params(recipe))
    _log_folder(client, parent_id, run_dir)
    record = read_record(run_dir / STUDY_FILE, StudyRecord, "the study description written by the trainer")
    folders = [run.folder for entry in record.variants for run in entry.runs] or [
        entry.folder for entry in record.variants]
    for folder in folders:
        child_id = _find_run(client, experiment_id, run_key(run_dir / folder))
        if child_id is None:  # trained before mlflow was among the loggers
            continue
        client.set_tag(child_id, PARENT_TAG, parent_id)
        _log_folder(client, child_id, run_dir / folder)
        _log_test_scores(client, child_id, run_dir / folder)
    client.set_terminated(parent_id, "FINISHED")
    return parent_id
