"""The files of a run folder and the schema of each JSON file, shared by the writer (train) and the reader (report).

A run folder is the only thing the report reads, so its contract is written down once, here: ``fit_variant`` builds a
:class:`VariantMetrics` and dumps it, ``load_run`` validates the file against the same class. Unknown keys are ignored
(an older or newer trainlab may add some); a missing key or a value of the wrong type fails with the file and the key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_text, read_json, write_json

STUDY_FILE = "study.json"
RECIPE_FILE = "recipe.yaml"
BASELINES_FILE = "baselines.json"
METRICS_FILE = "metrics.json"
FAILURE_FILE = "failure.json"
HISTORY_FILE = "history.csv"
PREDICTIONS_FILE = "predictions.csv"
SAMPLES_FILE = Path("plots") / "samples.png"  # in the run folder: training images per class
MISCLASSIFIED_FILE = Path("plots") / "misclassified.png"  # in a variant's folder
SUMMARY_FILE = "summary.txt"
CONFIG_FILE = "config.yaml"
INPUT_FILE = "input.json"  # in a variant's folder: what the model reads and predicts (for trainlab predict)
BEST_CHECKPOINT = Path("checkpoints") / "best.ckpt"  # the best validation epoch's weights
# The weights the test split was scored with, when they are not best.ckpt's (no early stopping, and a later epoch than
# the best one): trainlab predict reads them, so its answers match predictions.csv.
FINAL_CHECKPOINT = Path("checkpoints") / "final.ckpt"


def evaluated_checkpoint(variant_dir: Path) -> Path:
    """The checkpoint holding the weights a variant's test metrics were measured with."""
    final = variant_dir / FINAL_CHECKPOINT
    return final if final.is_file() else variant_dir / BEST_CHECKPOINT

R = TypeVar("R", bound="Record")


class Record(BaseModel):
    """A JSON file of a run folder: strict types (a count is an int, not a bool or a string), extra keys ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    def write(self, path: Path) -> Path:
        return write_json(path, self.model_dump(mode="json"))


Count = Field(ge=0)


class SplitScore(Record):
    """The loss and the primary metric on one split: ``accuracy`` for classification; for other tasks ``scores``
    holds the primary metric by name (e.g. ``{"wmae": 1520.3}``)."""

    loss: float
    accuracy: float | None = None
    scores: dict[str, float] = Field(default_factory=dict)

    def value(self, metric: str) -> float | None:
        """The split's value of ``metric`` (None when it was not measured)."""
        return self.accuracy if metric == "accuracy" else self.scores.get(metric)


class ClassScore(Record):
    precision: float
    recall: float
    f1: float
    support: int = Count


class ClassificationScore(Record):
    """Accuracy, macro and per-class precision / recall / F1 and the confusion matrix (rows: true class)."""

    accuracy: float
    precision_macro: float
    recall_macro: float
    f1_macro: float
    per_class: dict[str, ClassScore]
    confusion_matrix: list[list[int]]

    @model_validator(mode="after")
    def _square_matrix(self) -> ClassificationScore:
        n = len(self.per_class)
        if len(self.confusion_matrix) != n or any(len(row) != n for row in self.confusion_matrix):
            raise ValueError(f"confusion_matrix must be {n}x{n} (one row and column per class)")
        return self


class TestScore(ClassificationScore):
    loss: float


class RegressionScore(Record):
    """Regression metrics (torchmetrics) over every predicted value of a split: RMSE, MAE and R² in the target's
    units (the scaling undone) and on the scaled values the loss is computed on, and WMAE, the mean absolute error
    weighted by ``weight`` per value (holiday weeks 5, others 1, as in the Walmart competition; with no weights it
    equals MAE). ``count`` is the number of values scored (windows × horizon)."""

    rmse: float
    mae: float
    r2: float
    wmae: float
    rmse_scaled: float
    mae_scaled: float
    r2_scaled: float
    count: int = Count


class RegressionTestScore(RegressionScore):
    loss: float


def _score_kind(value: Any) -> str:
    """Which task's scores a ``test`` entry holds: regression scores have a ``wmae``."""
    if isinstance(value, dict):
        return "regression" if "wmae" in value else "classification"
    return "regression" if isinstance(value, RegressionScore) else "classification"


# A tagged union: a malformed entry is reported against the schema of its own kind (``test.regression.rmse``).
TestScores = Annotated[Annotated[TestScore, Tag("classification")] | Annotated[RegressionTestScore, Tag("regression")],
                       Discriminator(_score_kind)]
BaselineScores = Annotated[Annotated[ClassificationScore, Tag("classification")]
                           | Annotated[RegressionScore, Tag("regression")], Discriminator(_score_kind)]


class VariantMetrics(Record):
    """``<variant>/metrics.json``: one finished run of one variant (one seed).

    ``notes`` are facts the model reports about itself (e.g. the vocabulary coverage of pretrained embeddings).
    """

    variant: str
    techniques: list[str]
    task: str = "classification"  # runs written before task kinds existed were all classification
    input_kind: str = "image"
    model: str = ""  # the registered model's name ("" in runs written before it was recorded)
    params: int = Count
    trainable_params: int | None = None
    notes: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    epochs_run: int = Count
    best_epoch: int  # -1 when validation never ran
    stopped_early: bool
    wall_time_s: float = 0.0
    train_images_per_s: float = 0.0
    runtime: dict[str, Any] = Field(default_factory=dict)
    classes: list[str] = Field(default_factory=list)  # empty for regression
    train: SplitScore
    val: SplitScore
    test: TestScores

    @model_validator(mode="after")
    def _classes_match(self) -> VariantMetrics:
        if isinstance(self.test, TestScore) and list(self.test.per_class) != self.classes:
            raise ValueError(f"test.per_class must have one entry per class, in order: {self.classes}")
        return self


class VariantFailure(Record):
    """``<variant>/failure.json``: a run that stopped because its loss diverged (the study went on without it)."""

    variant: str
    techniques: list[str]
    seed: int | None = None
    reason: str
    epoch: int
    batch: int | None = None  # the first batch of ``epoch`` (from 1) whose loss was not finite; None: validation
    lr: float | None = None
    wall_time_s: float = 0.0


class BaselineResult(Record):
    """One baseline's scores: ``test`` with the task's own metrics; ``train_accuracy`` for classifiers only."""

    name: str
    description: str = ""
    train_accuracy: float | None = None
    test: BaselineScores
    fit_time_s: float = 0.0


class BaselineResults(Record):
    """``baselines.json``: the non-deep models fitted on the study's split."""

    features: str = ""
    baselines: list[BaselineResult]


def plain_folder(folder: str, depth: int) -> str:
    """A relative folder of at most ``depth`` plain names (``base``, or ``base/seed-1`` for one seed's run)."""
    parts = PurePosixPath(folder).parts
    plain = all(part not in (".", "..") for part in parts) and 1 <= len(parts) <= depth
    if not folder or "\\" in folder or folder.startswith("/") or not plain:
        raise ValueError(f"variant folder {folder!r} must be a plain relative folder name")
    return folder


VariantFolder = Annotated[str, AfterValidator(lambda folder: plain_folder(folder, 1))]
RunFolder = Annotated[str, AfterValidator(lambda folder: plain_folder(folder, 2))]  # a variant's seed-N sub-folder


class SeedRun(Record):
    seed: int
    folder: RunFolder


class VariantEntry(Record):
    name: str
    folder: VariantFolder
    techniques: list[str] = Field(default_factory=list)
    runs: list[SeedRun] = Field(default_factory=list)  # empty in runs written before repeated seeds existed


class SkippedEntry(Record):
    path: str
    reason: str


class DataFigure(Record):
    """A figure of the data drawn when the study started (``path`` relative to the run folder)."""

    path: str
    caption: str


class DataSummary(Record):
    source: str | None = None
    classes: list[str] = Field(default_factory=list)
    counts: dict[str, dict[str, int]] = Field(default_factory=dict)  # split → class → images
    image_shape: list[int] | None = None
    in_memory: bool | None = None
    skipped: list[SkippedEntry] = Field(default_factory=list)
    mean: list[float] | None = None
    std: list[float] | None = None
    stats_sample: int | None = None
    fingerprint: str | None = None  # absent in runs written before resumes checked the data
    input: dict[str, Any] = Field(default_factory=dict)  # InputSpec.describe(); {} in runs of images before kinds
    profile: dict[str, Any] = Field(default_factory=dict)  # the data kind's facts for its EDA figures
    split_note: str = ""  # where each split came from, in words (absent in older runs)
    figures: list[DataFigure] = Field(default_factory=list)


class StudyRecord(Record):
    """``study.json``: what the study is, where each run lives, and the data every variant shared."""

    name: str | None = None
    description: str = ""
    task: str = "classification"
    # The task's primary metric: {"name", "higher_is_better", "unit"} (absent in older runs: accuracy).
    primary: dict[str, Any] = Field(default_factory=dict)
    mode: str | None = None
    base: str | None = None
    seeds: list[int] | None = None
    seed: int | None = None
    variants: list[VariantEntry]
    started: str | None = None
    finished: str | None = None
    wall_time_s: float | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    device: str | None = None
    precision: str | None = None
    runtime: dict[str, Any] = Field(default_factory=dict)
    data: DataSummary = Field(default_factory=DataSummary)


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    loc = [part for index, part in enumerate(first["loc"])
           if not (index and first["loc"][index - 1] == "test" and part in ("classification", "regression"))]
    key = ".".join(str(part) for part in loc)
    detail = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"the key {key!r} is missing"
    got = first.get("input")
    shown = f" is {got!r}" if not isinstance(got, dict | list) else ""
    return f"{key!r}{shown}: {detail}" if key else detail


def read_record(path: Path, model: type[R], expected: str) -> R:
    """Read and validate one JSON file of a run folder; any problem is one TrainlabError naming the file and key."""
    try:
        payload = read_json(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TrainlabError(f"{path} is not readable JSON ({error}): expected {expected}") from None
    if not isinstance(payload, dict):
        raise TrainlabError(f"{path} holds a JSON {type(payload).__name__}: expected an object with {expected}")
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise TrainlabError(f"{path} is malformed: {_problem(error)} (expected {expected})") from None


PREDICTION_COLUMNS = ("index", "id", "true", "predicted")
"""The first columns of ``predictions.csv``; one ``p_<class>`` column per class follows, in the classes' order, and
for text data a last ``text`` column."""
TEXT_COLUMN = "text"


def probability_column(class_name: str) -> str:
    return f"p_{class_name}"


def predictions_table(ids: Sequence[str], labels: Sequence[int], probabilities: Sequence[Sequence[float]],
                      classes: Sequence[str], texts: Sequence[str] | None = None) -> Any:
    """The rows of ``predictions.csv`` as a pandas DataFrame: one row per test example, in the test split's order,
    with its id (file or row), true and predicted class (the most probable one), every class probability and, for
    text, the example's text."""
    import pandas as pd

    table = pd.DataFrame([list(row) for row in probabilities], columns=[probability_column(c) for c in classes])
    predicted = table.to_numpy().argmax(axis=1) if len(table) else []
    table.insert(0, "predicted", [classes[index] for index in predicted])
    table.insert(0, "true", [classes[label] for label in labels])
    table.insert(0, "id", list(ids) if ids else [""] * len(table))
    table.insert(0, "index", range(len(table)))
    if texts:
        table[TEXT_COLUMN] = list(texts)
    return table


def write_predictions(path: Path, table: Any) -> Path:
    """Write a :func:`predictions_table` as ``predictions.csv`` (atomically)."""
    return atomic_write_text(path, table.to_csv(index=False))


def read_predictions(path: Path, classes: Sequence[str]) -> Any:
    """``predictions.csv`` as a pandas DataFrame (class names as text); a missing column is one TrainlabError."""
    import pandas as pd

    try:
        table = pd.read_csv(path, dtype={"id": str, "true": str, "predicted": str, TEXT_COLUMN: str},
                            keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise TrainlabError(f"{path} is not a readable CSV file: {error}") from None
    expected = [*PREDICTION_COLUMNS, *(probability_column(name) for name in classes)]
    missing = [column for column in expected if column not in table.columns]
    if missing:
        raise TrainlabError(f"{path} lacks the column(s) {', '.join(missing)}: expected {', '.join(expected)}")
    return table


FORECAST_COLUMNS = ("index", "id", "series", "date", "step", "true", "predicted", "weight")
"""The columns of a regression run's ``predictions.csv``: one row per predicted value (window ``index``, predicted
``step`` 1..horizon), in the test split's order; ``date`` is the predicted step's date, values in the target's
units, ``weight`` the WMAE weight of the value."""


def forecast_table(ids: Sequence[str], series: Sequence[str], dates: Sequence[Sequence[str]],
                   true: Any, predicted: Any, weight: Any, mask: Any = None) -> Any:
    """The rows of a regression ``predictions.csv``: ``true``, ``predicted`` and ``weight`` are [N, horizon] arrays
    (units), ``dates[i][k]`` the date of step ``k`` of window ``i``; a step whose ``mask`` is False (a week the series
    has no row: nothing to compare with) is left out."""
    import numpy as np
    import pandas as pd

    true, predicted, weight = (np.asarray(a, dtype=float) for a in (true, predicted, weight))
    count, horizon = true.shape if true.ndim == 2 else (0, 1)
    rows = np.repeat(np.arange(count), horizon)
    table = pd.DataFrame({
        "index": rows,
        "id": np.repeat(np.asarray(list(ids) if ids else [""] * count, dtype=object), horizon),
        "series": np.repeat(np.asarray(list(series), dtype=object), horizon),
        "date": [dates[i][k] for i in range(count) for k in range(horizon)],
        "step": np.tile(np.arange(1, horizon + 1), count),
        "true": true.reshape(-1), "predicted": predicted.reshape(-1), "weight": weight.reshape(-1),
    }, columns=list(FORECAST_COLUMNS))
    if mask is not None:
        table = table[np.asarray(mask, dtype=bool).reshape(-1)].reset_index(drop=True)
    return table


def read_forecasts(path: Path) -> Any:
    """A regression ``predictions.csv`` as a DataFrame; a missing column is one TrainlabError."""
    import pandas as pd

    try:
        table = pd.read_csv(path, dtype={"id": str, "series": str, "date": str}, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise TrainlabError(f"{path} is not a readable CSV file: {error}") from None
    missing = [column for column in FORECAST_COLUMNS if column not in table.columns]
    if missing:
        raise TrainlabError(f"{path} lacks the column(s) {', '.join(missing)}: expected {', '.join(FORECAST_COLUMNS)}")
    return table


class InputRecord(Record):
    """``<variant>/input.json``: what the variant's model reads and predicts, so that ``trainlab predict`` can prepare
    new inputs the way training did (for tokens: the tokenizer's name, the length cap and the whole vocabulary)."""

    task: str
    classes: list[str]
    input: dict[str, Any]
    target: dict[str, Any] = Field(default_factory=dict)  # TargetSpec.describe() for regression
    # Images: the per-channel {"mean", "std"} the model's inputs were normalized with (the train split's, or a
    # pretrained backbone's own); absent in runs written before it was recorded (study.json has the split's).
    normalize: dict[str, list[float]] = Field(default_factory=dict)


def input_record(task: str, bundle: Any, normalize: dict[str, list[float]] | None = None) -> InputRecord:
    """The :class:`InputRecord` of a DataBundle (and, for images, the normalization the model was fed)."""
    spec = bundle.input_spec
    payload = spec.to_dict() if hasattr(spec, "to_dict") else spec.describe()
    target = bundle.target
    return InputRecord(task=task, classes=list(bundle.classes), input=payload,
                       target=target.describe() if hasattr(target, "describe") else {}, normalize=normalize or {})
