"""The recipe: one typed, frozen description of a study, validated once before any work starts.

``load_recipe(name_or_path, overrides)`` reads YAML with ``safe_load``, applies ``--set a.b=value`` overrides, and
validates with pydantic (unknown keys and bad values fail with the key path and what was expected). A study's variants
are dotted overrides too, so ``Recipe.variants()`` returns new frozen recipes and never mutates one in place.
"""

from __future__ import annotations

import copy
import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator, model_validator

from trainlab.errors import TrainlabError
from trainlab.io import load_yaml, parse_yaml, read_user_text
from trainlab.validate import MAX_IMAGE_SIZE, MAX_WIDTH

RECIPES_PACKAGE = "trainlab.recipes"
# Integers are strict: YAML's `true` or `2.5` is not an epoch count. Every count has an upper bound, so a typo such
# as 1e23 epochs fails here instead of running for ever.
PositiveInt = Annotated[StrictInt, Field(gt=0)]
Count = Annotated[StrictInt, Field(gt=0, le=100_000)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
TECHNIQUE_NAME = re.compile(r"[A-Za-z0-9_]+")
# What a study technique may change: the model and how it is trained. Data is shared by every variant; the seed,
# the study itself and the output folders belong to the study, so a technique setting them would either change what
# the comparison measures (another seed than the base's) or be silently ignored.
TECHNIQUE_SECTIONS = ("model", "training", "regularization")
# The Lightning loggers a run may write to (output.loggers); trainlab.train.loggers builds them.
LOGGERS = ("csv", "tensorboard", "mlflow")


class Strict(BaseModel):
    """Base for every recipe section: unknown keys are errors, numbers are finite, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SplitConfig(Strict):
    """Fractions for a stratified split; ignored when the data already has train/val/test folders."""

    train: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.70
    # Validation picks the checkpoint and drives early stopping, so it cannot be empty.
    val: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.15
    test: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.15

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitConfig:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must sum to 1, got {total:g}")
        return self


class DataConfig(Strict):
    source: str = "digits"
    path: Path | None = None
    image_size: Annotated[StrictInt, Field(gt=0, le=MAX_IMAGE_SIZE)] = 32
    channels: Literal[1, 3] = 3
    split: SplitConfig = SplitConfig()
    split_seed: StrictInt = 0
    max_per_class: PositiveInt | None = None
    in_memory: Literal["auto", True, False] = "auto"  # auto: decode into RAM when it fits in a quarter of it
    device_resident: bool = True  # on CUDA, in-memory data lives on the GPU
    # The source's own options (e.g. text_csv's text_column, binary, min_freq), checked by its builder.
    options: dict[str, Any] = Field(default_factory=dict)


class ModelConfig(Strict):
    name: str = "vgg13"
    width: Annotated[float, Field(gt=0.0, le=MAX_WIDTH)] = 1.0
    options: dict[str, Any] = Field(default_factory=dict)


class TrainingConfig(Strict):
    epochs: Count = 10
    batch_size: Annotated[StrictInt, Field(gt=0, le=1 << 20)] = 64
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: Annotated[float, Field(gt=0.0)] = 0.01
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9
    # onecycle: per step, warm-up from lr/25 to lr over the first `warmup` of training, then cosine decay to ~0
    # (Smith's one-cycle, the schedule of the CIFAR-10 speed runs); cosine and step change the rate once an epoch.
    scheduler: Literal["none", "cosine", "step", "onecycle"] = "none"
    step_size: Count = 10
    gamma: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    warmup: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.25  # onecycle's share of the steps spent warming up
    # Classification: the target puts 1 - label_smoothing on the true class and spreads the rest evenly (Szegedy et
    # al.); overconfident logits cost more, which helps small nets on small data.
    label_smoothing: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    # Test-time augmentation of images, in validation and test: "hflip" averages the class probabilities of each image
    # and its mirror image (for classes that a mirror does not change, as photos of dogs, food and vehicles).
    tta: Literal["none", "hflip"] = "none"
    accelerator: Literal["auto", "cpu", "gpu", "cuda"] = "auto"
    devices: Annotated[StrictInt, Field(gt=0, le=1024)] | Literal["auto"] = 1
    num_nodes: Annotated[StrictInt, Field(gt=0, le=100_000)] = 1
    strategy: str = "auto"
    precision: Literal["auto", "32-true", "bf16-mixed", "16-mixed"] = "auto"
    channels_last: Literal["auto", True, False] = "auto"
    # torch.compile of the model (in place, so checkpoints keep their keys): "auto" compiles on CUDA only. On 2 CPU
    # cores it trains VGG-13 (width 1/8, 32 px) 1.22x faster after 46 s of compiling, which pays off only in runs of
    # more than about 4 minutes; true compiles on the CPU too. A failed compilation falls back to eager.
    compile: Literal["auto", True, False] = "auto"
    progress_bar: bool = True
    num_workers: Annotated[StrictInt, Field(ge=0, le=256)] = 0


class EarlyStoppingConfig(Strict):
    patience: Count = 3
    min_delta: Annotated[float, Field(ge=0.0)] = 0.0


class AugmentationConfig(Strict):
    """Batched, on-device augmentation of the training split only."""

    crop_scale: tuple[Fraction, Fraction] = (0.8, 1.0)
    crop_ratio: tuple[Annotated[float, Field(gt=0.0)], Annotated[float, Field(gt=0.0)]] = (3 / 4, 4 / 3)
    hflip: Fraction = 0.5
    grayscale: Fraction = 0.0

    @model_validator(mode="after")
    def _ordered_ranges(self) -> AugmentationConfig:
        if not (0.0 < self.crop_scale[0] <= self.crop_scale[1]):
            raise ValueError(f"crop_scale must be (min, max) with 0 < min <= max <= 1, got {self.crop_scale}")
        if self.crop_ratio[0] > self.crop_ratio[1]:
            raise ValueError(f"crop_ratio must be (min, max) with min <= max, got {self.crop_ratio}")
        return self


class RegularizationConfig(Strict):
    """The techniques under study. A value of 0 / null means the technique is off."""

    weight_decay: Annotated[float, Field(ge=0.0)] = 0.0
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    early_stopping: EarlyStoppingConfig | None = None
    augmentation: AugmentationConfig | None = None


class StudyConfig(Strict):
    """Which variants to run. Each technique is a set of dotted overrides switched on over the base recipe.

    ``cumulative``: base, base+t1, base+t1+t2, ...;  ``one_at_a_time``: base, base+t1, base+t2, ...;
    ``single``: the base recipe alone. ``repeats`` trains every variant with seeds ``seed, seed+1, ...`` so the report
    can give each difference a confidence interval; the data split (``data.split_seed``) stays the same.
    ``baselines`` are non-deep models (see ``trainlab.train.baselines``) fitted on the same split for comparison.
    """

    mode: Literal["cumulative", "one_at_a_time", "single"] = "single"
    techniques: dict[str, dict[str, Any]] = Field(default_factory=dict)
    repeats: Annotated[StrictInt, Field(gt=0, le=100)] = 1
    baselines: list[str] | None = None  # None: the task's (DEFAULT_BASELINES); [] for none

    @field_validator("techniques")
    @classmethod
    def _check_techniques(cls, techniques: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, overrides in techniques.items():
            if not TECHNIQUE_NAME.fullmatch(name):
                raise ValueError(f"technique name {name!r} must be letters, digits and underscores (it names folders)")
            for key in overrides:
                if key.split(".", 1)[0] not in TECHNIQUE_SECTIONS:
                    allowed = ", ".join(f"{section}.*" for section in TECHNIQUE_SECTIONS)
                    raise ValueError(f"technique {name!r} sets {key!r}; a technique may only change {allowed} "
                                     "(data, seed, study and output settings are shared by every variant)")
        return techniques


class OutputConfig(Strict):
    """Where runs and the data cache go, and which Lightning loggers record each run (see ``trainlab.train.loggers``).

    ``loggers``: ``csv`` is always on (trainlab's own logs are CSV; a list without it gets it added in front, so
    ``[tensorboard]`` reads as ``[csv, tensorboard]``); ``tensorboard`` and ``mlflow`` need the optional extras of the
    same names. ``mlflow_uri`` is MLflow's store, an SQLite database on this machine (a file path or a ``sqlite:///``
    URI); null means ``<dir>/mlflow/mlflow.db``. Nothing is ever logged over the network.
    """

    dir: Path = Path("runs")
    cache_dir: Path = Path(".cache/trainlab")
    loggers: list[str] = Field(default_factory=lambda: ["csv"])
    mlflow_uri: str | None = None

    @field_validator("loggers", mode="before")
    @classmethod
    def _one_logger_as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value  # --set output.loggers=tensorboard

    @field_validator("loggers")
    @classmethod
    def _known_loggers(cls, names: list[str]) -> list[str]:
        unknown = [name for name in names if name not in LOGGERS]
        if unknown:
            raise ValueError(f"unknown logger {unknown[0]!r}; known loggers: {', '.join(LOGGERS)}")
        # csv first and always (trainlab's logs are CSV); each name once, in the order given.
        return list(dict.fromkeys(["csv", *names]))

    @field_validator("mlflow_uri")
    @classmethod
    def _local_database(cls, uri: str | None) -> str | None:
        if uri is None:
            return None
        # A drive letter (C:/runs/mlflow.db) is a path, not a scheme; sqlite:/// is the one URI scheme taken.
        has_scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]+:", uri) is not None
        database = uri[len("sqlite:///"):] if uri.lower().startswith("sqlite:///") else None if has_scheme else uri
        if database is None or not database.strip() or database.endswith(("/", "\\")):
            raise ValueError("must be an SQLite database on this machine: a file path such as runs/mlflow/mlflow.db "
                             "or a sqlite:/// URI (trainlab never logs over the network, and MLflow's folder store "
                             "is in maintenance mode)")
        return uri


# What a study trains: the task kind picks the LightningModule, its metrics and its baselines (trainlab.train.tasks).
TASKS = ("classification", "regression")
# The baselines a study fits beside its deep models when the recipe names none (trainlab.train.tasks runs them).
DEFAULT_BASELINES = {"classification": ["majority", "logistic"],
                     "regression": ["last_value", "seasonal_naive", "mean_last_4", "linear"]}


class Recipe(Strict):
    name: str
    description: str = ""
    task: Literal[TASKS] = "classification"  # type: ignore[valid-type]
    seed: StrictInt = 0
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    regularization: RegularizationConfig = RegularizationConfig()
    study: StudyConfig = StudyConfig()
    output: OutputConfig = OutputConfig()

    @model_validator(mode="after")
    def _task_baselines(self) -> Recipe:
        """Fill ``study.baselines`` with the task's defaults once, so the saved recipe names what ran."""
        if self.study.baselines is None and self.task in DEFAULT_BASELINES:
            study = self.study.model_copy(update={"baselines": list(DEFAULT_BASELINES[self.task])})
            object.__setattr__(self, "study", study)
        return self

    @property
    def baselines(self) -> list[str]:
        return list(self.study.baselines or [])

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def seeds(self) -> list[int]:
        """The training seeds of every variant: ``seed, seed+1, ..., seed+repeats-1``."""
        return [self.seed + offset for offset in range(self.study.repeats)]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def with_overrides(self, overrides: dict[str, Any], origin: str = "override") -> Recipe:
        """A new validated recipe with dotted ``overrides`` applied; ``self`` is left untouched."""
        raw = self.to_dict()
        if "task" in overrides and self.study.baselines == DEFAULT_BASELINES.get(self.task):
            raw["study"]["baselines"] = None  # the old task's defaults: the new task fills in its own
        for dotted, value in overrides.items():
            set_dotted(raw, dotted, value, origin)
        return validate_recipe(raw, origin)

    def variants(self) -> list[Variant]:
        """Expand the study into named variants, each a fully validated recipe."""
        names = list(self.study.techniques)
        if self.study.mode == "single" or not names:
            plans: list[tuple[str, list[str]]] = [("base", [])]
        elif self.study.mode == "cumulative":
            plans = [("base", [])] + [("+" + "+".join(names[: i + 1]), names[: i + 1]) for i in range(len(names))]
        else:
            plans = [("base", [])] + [(f"+{name}", [name]) for name in names]
        variants = []
        for label, techniques in plans:
            overrides: dict[str, Any] = {}
            for technique in techniques:
                overrides.update(self.study.techniques[technique])
            recipe = self.with_overrides(overrides, origin=f"study technique(s) {techniques}")
            variants.append(Variant(name=label, techniques=tuple(techniques), recipe=recipe))
        return variants


class Variant(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    techniques: tuple[str, ...]
    recipe: Recipe

    @property
    def folder(self) -> str:
        """A file-system-safe folder name: ``base``, ``+l2+dropout`` → ``plus-l2-dropout``."""
        return "base" if not self.techniques else "plus-" + "-".join(self.techniques)


def format_validation_error(error: ValidationError, origin: str) -> str:
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(recipe)"
        got = problem.get("input")
        detail = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            detail = "unknown key (check the spelling; `trainlab recipes --show NAME` prints every key)"
        elif not isinstance(got, dict):
            detail = f"{detail} (got {got!r})"
        lines.append(f"{key}: {detail}")
    return f"invalid recipe {origin}: " + "; ".join(lines)


def validate_recipe(raw: Any, origin: str) -> Recipe:
    if not isinstance(raw, dict):
        raise TrainlabError(f"invalid recipe {origin}: expected a mapping of keys at the top, got {type(raw).__name__}")
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as error:
        raise TrainlabError(format_validation_error(error, origin)) from None
    return recipe


def _is_open_mapping(dotted: str) -> bool:
    """Keys under these mappings are free-form (model options, study techniques)."""
    return dotted.startswith(("model.options.", "data.options.", "study.techniques."))


def set_dotted(raw: dict[str, Any], dotted: str, value: Any, origin: str) -> None:
    """Set ``raw[a][b][c] = value`` for ``dotted = "a.b.c"``, creating nothing that is not a known section."""
    parts = dotted.split(".")
    if not all(parts):
        raise TrainlabError(f"{origin}: malformed key {dotted!r}; expected dotted names like training.epochs")
    if parts[:2] == ["study", "techniques"] and len(parts) > 3:
        # A technique maps dotted recipe keys to values: study.techniques.l2.regularization.weight_decay=0.01 sets
        # the key "regularization.weight_decay" of technique "l2" and keeps the technique's other keys.
        parts = [*parts[:3], ".".join(parts[3:])]
    node = raw
    for depth, part in enumerate(parts[:-1]):
        if part not in node and not _is_open_mapping(".".join(parts[: depth + 2])):
            raise TrainlabError(f"{origin}: unknown key {'.'.join(parts[: depth + 1])!r} in {dotted!r}")
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            section = ".".join(parts[: depth + 1])
            raise TrainlabError(f"{origin}: {section!r} is a value, not a section; cannot set {dotted!r}")
        node = child
    node[parts[-1]] = copy.deepcopy(value)


def parse_override(text: str, option: str = "--set", example: str = "training.epochs=20") -> tuple[str, Any]:
    """``"training.epochs=20"`` → ``("training.epochs", 20)``; the value is parsed as YAML (numbers, lists, null).

    ``option`` and ``example`` name the command-line option in the error, e.g. ``--option`` and ``batch_norm=true``.
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise TrainlabError(f"{option} {text!r}: expected KEY=VALUE, e.g. {option} {example}")
    try:
        parsed = parse_yaml(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed


def recipe_names() -> list[str]:
    folder = resources.files(RECIPES_PACKAGE)
    return sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def recipe_text(name_or_path: str | Path) -> tuple[str, str]:
    """Return (origin, YAML text) for a packaged recipe name or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        return str(candidate), read_user_text(candidate, "recipe file")
    name = str(name_or_path)
    if name not in recipe_names():
        known = ", ".join(recipe_names())
        raise TrainlabError(f"unknown recipe {name!r}; packaged recipes: {known} (or give a .yaml path)")
    return name, resources.files(RECIPES_PACKAGE).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def load_recipe(name_or_path: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> Recipe:
    """Read, override and validate a recipe. Every variant is validated too, so errors surface before any work."""
    origin, text = recipe_text(name_or_path)
    raw = load_yaml(text, f"recipe {origin}")
    pairs = dict(parse_override(item) for item in overrides) if isinstance(overrides, list) else dict(overrides or {})
    # Overrides go onto the fully resolved recipe, so a key whose section the file leaves out is still known.
    recipe = validate_recipe(raw, origin)
    if pairs:
        recipe = recipe.with_overrides(pairs, origin=f"{origin} (with --set)")
    recipe.variants()
    return recipe
