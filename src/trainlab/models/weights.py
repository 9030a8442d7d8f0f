"""Pretrained weights read from files, never from a hub.

:func:`read_weights` takes what a user passes as ``model.options.weights`` (or ``trainlab style --weights``):

* a trainlab run: a variant folder (``runs/<study>/<stamp>/base``, ``.../base/seed-0``) or a run folder of a single
  variant; the weights its test was scored with, the normalization it trained with (``input.json``, or the study's
  ``study.json`` for runs written before input.json recorded it) and its model section (``config.yaml``);
* a checkpoint file: a trainlab / Lightning checkpoint (``state_dict`` with ``model.*`` keys), or a plain PyTorch
  ``state_dict`` (torchvision's ResNet / VGG files among them; ``module.`` prefixes of DDP are stripped);
* ``torchvision:NAME`` (e.g. ``torchvision:resnet18``): torchvision's named ImageNet weights, only when the file is
  already in the local torch cache (``torch.hub.get_dir()/checkpoints``); otherwise an error says how to provide it.

Every file is loaded with ``torch.load(..., weights_only=True)``: tensors and plain containers only, no code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from trainlab.artifacts import (
    CONFIG_FILE,
    FAILURE_FILE,
    INPUT_FILE,
    STUDY_FILE,
    InputRecord,
    StudyRecord,
    evaluated_checkpoint,
    read_record,
)
from trainlab.errors import TrainlabError
from trainlab.io import read_user_text

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_PREFIX = "torchvision:"
TORCHVISION_NAMES = ("resnet18", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn")
WHAT = ("a trainlab run folder (e.g. runs/pretrain/<stamp>/base), a checkpoint or state_dict file (.ckpt, .pt, "
        ".pth), or torchvision:NAME for weights already in the local torch cache")
CHECKPOINT_PREFIX = "model."  # the task module's attribute holding the network, in a trainlab checkpoint
DDP_PREFIX = "module."


@dataclass(frozen=True)
class WeightsFile:
    """Weights as read: ``state`` keyed as the file names them (a trainlab checkpoint's ``model.`` prefix stripped).

    ``mean``/``std`` are the per-channel normalization the weights were trained with, when the source says (a
    trainlab run, torchvision's ImageNet files); ``model`` is the run's model section (``name``, ``width``,
    ``options``) when the source is a trainlab run.
    """

    state: dict[str, torch.Tensor]
    source: str
    kind: str  # "trainlab run" | "trainlab checkpoint" | "state_dict" | "torchvision cache"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    model: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.kind} {self.source}"


def read_weights(spec: str | Path) -> WeightsFile:
    """The weights ``spec`` names (see the module docstring); any problem is one TrainlabError saying what to pass."""
    text = str(spec)
    if text.startswith(TORCHVISION_PREFIX):
        return _from_torch_cache(text[len(TORCHVISION_PREFIX):])
    path = Path(text).expanduser()
    if not path.exists():
        raise TrainlabError(f"weights {text!r} do not exist; pass {WHAT}")
    if path.is_dir():
        return _from_run(path)
    return _from_file(path)


# --- files -----------------------------------------------------------------------------------------------------------


def load_file(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; a damaged or foreign file is one clear error."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many types (pickle, zip, EOF, runtime) for a damaged file
        detail = " ".join(str(error).split())[:200]
        raise TrainlabError(f"weights file {path} is not a readable PyTorch file ({type(error).__name__}: {detail}); "
                            "it may be truncated (an interrupted copy or download) or not a weights file; expected "
                            "a state_dict saved with torch.save, or a trainlab checkpoint") from None


def _tensors(mapping: dict[Any, Any]) -> dict[str, torch.Tensor]:
    return {key: value for key, value in mapping.items() if isinstance(key, str) and isinstance(value, torch.Tensor)}


def state_of(payload: Any, path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """The tensors of a loaded file and what kind of file it was: a checkpoint (``state_dict``, ``model.*`` keys
    stripped), a ``{"model": state_dict}`` wrapper or a plain ``state_dict`` (``module.`` prefixes stripped)."""
    if not isinstance(payload, dict):
        raise TrainlabError(f"weights file {path} holds a {type(payload).__name__}, not a state_dict; expected a "
                            "dict of tensors saved with torch.save(model.state_dict(), ...), or a trainlab checkpoint")
    kind = "state_dict"
    for key in ("state_dict", "model"):
        if isinstance(payload.get(key), dict):
            payload, kind = payload[key], "trainlab checkpoint" if key == "state_dict" else kind
            break
    state = _tensors(payload)
    if state and all(key.startswith(CHECKPOINT_PREFIX) or key.startswith("inputs.") for key in state):
        state = {key[len(CHECKPOINT_PREFIX):]: value for key, value in state.items()
                 if key.startswith(CHECKPOINT_PREFIX)}
    elif state and all(key.startswith(DDP_PREFIX) for key in state):
        state = {key[len(DDP_PREFIX):]: value for key, value in state.items()}
    if not state:
        raise TrainlabError(f"weights file {path} holds no tensors; expected a state_dict (parameter name → tensor) "
                            "or a trainlab checkpoint")
    return state, kind


def _from_file(path: Path) -> WeightsFile:
    state, kind = state_of(load_file(path), path)
    run = _run_of_checkpoint(path)
    if run is not None and kind == "trainlab checkpoint":
        mean, std = _run_stats(run)
        return WeightsFile(state, str(path), kind, mean, std, _run_model(run))
    return WeightsFile(state, str(path), kind)


def _run_of_checkpoint(path: Path) -> Path | None:
    """The variant folder holding ``path`` as ``checkpoints/<name>.ckpt``, if it is one."""
    folder = path.parent.parent
    return folder if path.parent.name == "checkpoints" and (folder / INPUT_FILE).is_file() else None


# --- trainlab runs ---------------------------------------------------------------------------------------------------


def study_runs(run_dir: Path) -> list[Path]:
    """Every variant run (one per variant and seed) that ``run_dir``'s study.json lists."""
    record = read_record(run_dir / STUDY_FILE, StudyRecord, "the study description written by `trainlab run`")
    # Runs written before repeated seeds existed list no runs: the variant's folder is its one run.
    return [run_dir / folder for variant in record.variants
            for folder in ([run.folder for run in variant.runs] or [variant.folder])]


def run_folder(path: Path) -> Path:
    """The one variant run ``path`` names: itself, the lowest seed of a variant trained with several seeds, or the
    single variant run of a study folder. A study of several variants is an error listing them."""
    if (path / STUDY_FILE).is_file():
        runs = [run for run in study_runs(path) if (run / INPUT_FILE).is_file()]
        variants = sorted({run.relative_to(path).parts[0] for run in runs})
        if len(variants) != 1:
            listed = ", ".join(str(path / name) for name in variants) or "none finished"
            raise TrainlabError(f"{path} is a study of {len(variants)} variants; weights come from one: pass one "
                                f"of {listed}")
        path = path / variants[0]
    if (path / INPUT_FILE).is_file() and (path / CONFIG_FILE).is_file():
        return path
    if (path / FAILURE_FILE).is_file():
        raise TrainlabError(f"{path} is a variant whose training diverged ({FAILURE_FILE}); it has no weights to use")
    seeds = sorted((child for child in path.iterdir() if child.is_dir() and (child / INPUT_FILE).is_file()),
                   key=lambda child: (len(child.name), child.name))
    if seeds:
        return seeds[0]
    raise TrainlabError(f"{path} is not a trainlab run: it has no {INPUT_FILE} and {CONFIG_FILE}; pass {WHAT}")


def _run_stats(variant: Path) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None]:
    """The normalization a run trained with: its input.json, else the study.json above it (older runs)."""
    record = read_record(variant / INPUT_FILE, InputRecord, "the input of a variant, written by `trainlab run`")
    if record.normalize:
        return tuple(record.normalize["mean"]), tuple(record.normalize["std"])
    for folder in (variant.parent, variant.parent.parent):
        if (folder / STUDY_FILE).is_file():
            data = read_record(folder / STUDY_FILE, StudyRecord, "the study description").data
            if data.mean and data.std:
                return tuple(data.mean), tuple(data.std)
    return None, None


def _run_model(variant: Path) -> dict[str, Any]:
    try:
        config = yaml.safe_load(read_user_text(variant / CONFIG_FILE, "run config"))
    except yaml.YAMLError as error:
        raise TrainlabError(f"{variant / CONFIG_FILE} is not valid YAML ({error})") from None
    model = config.get("model") if isinstance(config, dict) else None
    return dict(model) if isinstance(model, dict) else {}


def _from_run(path: Path) -> WeightsFile:
    variant = run_folder(path)
    checkpoint = evaluated_checkpoint(variant)
    if not checkpoint.is_file():
        raise TrainlabError(f"{variant} has no weights ({checkpoint} is missing): the run did not finish")
    state, _ = state_of(load_file(checkpoint), checkpoint)
    mean, std = _run_stats(variant)
    return WeightsFile(state, str(variant), "trainlab run", mean, std, _run_model(variant))


# --- the local torch cache -------------------------------------------------------------------------------------------


def _from_torch_cache(name: str) -> WeightsFile:
    if name not in TORCHVISION_NAMES:
        raise TrainlabError(f"unknown torchvision weights {name!r}; trainlab maps: {', '.join(TORCHVISION_NAMES)}")
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    found = sorted(cache.glob(f"{name}-*.pth")) if cache.is_dir() else []
    if not found:
        raise TrainlabError(f"torchvision's {name} weights are not in the local torch cache ({cache}) and trainlab "
                            "never downloads: copy the file (e.g. resnet18-f37072fd.pth) there, or pass its path as "
                            "the weights; a trainlab run works too (trainlab pretrain resnet18 --data FOLDER)")
    state, _ = state_of(load_file(found[0]), found[0])
    return WeightsFile(state, str(found[0]), "torchvision cache", IMAGENET_MEAN, IMAGENET_STD)
