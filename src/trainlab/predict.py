"""``trainlab predict``: label new texts with a trained variant, from its folder alone.

A variant folder (``runs/<study>/<stamp>/base``, or ``base/seed-N`` with ``study.repeats`` > 1) holds everything:
``config.yaml`` (the recipe that built the model), ``input.json`` (the classes, the tokenizer, the length cap and the
whole vocabulary) and ``checkpoints/best.ckpt`` (the weights). Texts are tokenized by :func:`encode_texts` under the
run's :class:`TokenSpec`, exactly as the training data was.

Nothing of the training data is read again. A model whose recipe reads pretrained vectors
(``model.options.embeddings``, a GloVe file) is built on a stand-in file of one word with the checkpoint's embedding
size (so the original file may be gone, and the model is the same shape whatever ``model.width``); the checkpoint's
weights then replace those vectors. An encoder's ``cache_dir`` is left out, so predicting writes nothing.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainlab.artifacts import (
    BEST_CHECKPOINT,
    CONFIG_FILE,
    FAILURE_FILE,
    INPUT_FILE,
    STUDY_FILE,
    InputRecord,
    evaluated_checkpoint,
    read_record,
)
from trainlab.config import Recipe, load_recipe
from trainlab.data.specs import TokenSpec
from trainlab.errors import TrainlabError
from trainlab.io import read_user_text

CHECKPOINT = BEST_CHECKPOINT
MODEL_PREFIX = "model."  # the task module's attribute holding the network, in the Lightning state_dict
EMBEDDINGS_OPTION = "embeddings"
WRITING_OPTIONS = ("cache_dir",)  # model options that only make the model write files; left out when predicting
BATCH = 256
VARIANT_FOLDER = (f"a variant folder is one that `trainlab run` writes per variant (runs/<study>/<stamp>/base, or "
                  f"base/seed-N with study.repeats > 1), holding {CONFIG_FILE}, {INPUT_FILE} and {CHECKPOINT}")


@dataclass(frozen=True)
class Prediction:
    """One text's predicted class and every class's probability (in the classes' order)."""

    text: str
    label: str
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "label": self.label, "probabilities": self.probabilities}


@dataclass(frozen=True)
class SourcedText:
    """A text to classify and where it came from (``argument 2``, ``notes.txt line 7``), for error messages."""

    text: str
    origin: str


# --- which folder ----------------------------------------------------------------------------------------------------


def resolve_variant_dir(path: Path) -> Path:
    """The variant folder ``path`` names: itself, or the single variant run of a run folder; anything else is one
    TrainlabError that says what is missing or lists the folders to choose from."""
    if not path.exists():
        raise TrainlabError(f"folder {path} does not exist; {VARIANT_FOLDER}")
    if not path.is_dir():
        raise TrainlabError(f"{path} is a file, not a folder; {VARIANT_FOLDER}")
    if (path / STUDY_FILE).is_file():
        from trainlab.models.weights import study_runs

        folders = study_runs(path)
        if len(folders) == 1:
            return folders[0]
        listed = ", ".join(str(folder) for folder in folders) or "none"
        raise TrainlabError(f"{path} is a run folder of {len(folders)} variant runs; trainlab predict reads one: "
                            f"pass one of {listed}")
    missing = [name for name in (INPUT_FILE, CONFIG_FILE) if not (path / name).is_file()]
    if not missing:
        return path
    if (path / FAILURE_FILE).is_file():
        raise TrainlabError(f"{path} is a variant whose training diverged ({path / FAILURE_FILE}); it has no model "
                            "to predict with: pick another variant, or train it again")
    seeds = sorted(child for child in path.iterdir() if child.is_dir() and (child / INPUT_FILE).is_file())
    if seeds:
        raise TrainlabError(f"{path} holds one run per seed; trainlab predict reads one: pass one of "
                            + ", ".join(str(seed) for seed in seeds))
    raise TrainlabError(f"{path} is not a variant folder: it has no {' and no '.join(missing)}; {VARIANT_FOLDER}")


# --- which texts -----------------------------------------------------------------------------------------------------


def texts_from_file(path: Path) -> list[SourcedText]:
    """One text per line of the UTF-8 file ``path`` (a leading BOM and blank lines left out, ``\\r\\n`` accepted)."""
    content = read_user_text(path, "texts file").removeprefix("\ufeff")
    return [SourcedText(line.rstrip("\r"), f"{path} line {number}")
            for number, line in enumerate(content.split("\n"), start=1) if line.strip()]


def gather_texts(arguments: Sequence[str], file: Path | None) -> list[SourcedText]:
    """The arguments' texts, then the file's, in order; none at all is an error that says how to pass them."""
    texts = [SourcedText(text, f"argument {number}") for number, text in enumerate(arguments, start=1)]
    if file is not None:
        texts += texts_from_file(file)
    if not texts:
        where = f" ({file} holds only blank lines)" if file is not None else ""
        raise TrainlabError(f"no texts to classify{where}: pass them as arguments, e.g. trainlab predict RUN/base "
                            "\"the flight was late\" \"great crew\", or one per line in a UTF-8 file with --file FILE")
    return texts


# --- the model -------------------------------------------------------------------------------------------------------


def read_input_record(variant_dir: Path) -> tuple[InputRecord, TokenSpec]:
    """``input.json`` and its TokenSpec; a run of images or of another task is an error."""
    path = variant_dir / INPUT_FILE
    record = read_record(path, InputRecord, "the input of a variant, written by `trainlab run`")
    kind = record.input.get("kind")
    if kind == "image":
        raise TrainlabError(f"{path}: this run classifies images; trainlab predict reads texts (a run of a text "
                            "recipe, e.g. airline-lstm)")
    if kind == "window":
        raise TrainlabError(f"{path}: this run forecasts time series; trainlab predict reads texts. The run's test "
                            "forecasts are in its predictions.csv (one row per series, week and step)")
    if kind != TokenSpec.kind:
        raise TrainlabError(f"{path}: input kind {kind!r} is not one trainlab predict reads; expected 'tokens'")
    if record.task != "classification":
        raise TrainlabError(f"{path}: task {record.task!r}; trainlab predict labels texts for classification runs")
    try:
        spec = TokenSpec.from_dict(record.input)
    except (KeyError, TypeError, ValueError) as error:
        raise TrainlabError(f"{path} is malformed: its input is not a token spec ({error!r}); expected the vocab, "
                            "max_len, tokenizer, pad_id and unk_id written by `trainlab run`") from None
    if len(record.classes) < 2:
        raise TrainlabError(f"{path} is malformed: 'classes' lists {len(record.classes)} class(es); expected 2 or more")
    return record, spec


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The network's weights from a Lightning checkpoint (``state_dict`` keys ``model.*``, prefix stripped)."""
    if not path.is_file():
        raise TrainlabError(f"checkpoint {path} does not exist; the variant did not finish training (a variant "
                            "folder keeps its best weights there)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many types (pickle, zip, EOF, runtime) for a damaged file
        raise TrainlabError(f"checkpoint {path} is not readable ({type(error).__name__}: "
                            f"{' '.join(str(error).split())[:200]}); train the variant again") from None
    state = payload.get("state_dict") if isinstance(payload, dict) else None
    state = state if isinstance(state, dict) else {}
    weights = {key.removeprefix(MODEL_PREFIX): value for key, value in state.items()
               if isinstance(key, str) and key.startswith(MODEL_PREFIX)}
    if not weights:
        raise TrainlabError(f"checkpoint {path} holds no model weights (no state_dict keys starting with "
                            f"{MODEL_PREFIX!r}); expected a checkpoint written by `trainlab run`")
    return weights


def embedding_dim(weights: dict[str, torch.Tensor], path: Path) -> int:
    """The width of the checkpoint's token embedding (``*embedding.weight``, a [V, D] matrix)."""
    found = [value for key, value in weights.items()
             if key.endswith("embedding.weight") and isinstance(value, torch.Tensor) and value.ndim == 2]
    if not found:
        raise TrainlabError(f"checkpoint {path} holds no embedding weights, but its recipe builds the model from "
                            f"model.options.{EMBEDDINGS_OPTION}; expected a checkpoint written by `trainlab run`")
    return int(found[0].shape[1])


@contextlib.contextmanager
def prediction_recipe(recipe: Recipe, weights: dict[str, torch.Tensor], checkpoint: Path) -> Iterator[Recipe]:
    """``recipe`` with the model options that read or write files outside the run folder replaced (see the module
    docstring); the stand-in vectors file lives as long as the context."""
    options = {key: value for key, value in recipe.model.options.items() if key not in WRITING_OPTIONS}
    with tempfile.TemporaryDirectory(prefix="trainlab-predict-") as scratch:
        if options.get(EMBEDDINGS_OPTION) is not None:
            stand_in = Path(scratch) / "stand-in-vectors.txt"
            stand_in.write_text("<stand-in> " + " ".join(["0"] * embedding_dim(weights, checkpoint)) + "\n",
                                encoding="utf-8")
            options[EMBEDDINGS_OPTION] = str(stand_in)
        yield recipe.with_overrides({"model.options": options}, origin="config.yaml (for prediction)")


def load_model(variant_dir: Path, num_classes: int, spec: TokenSpec) -> nn.Module:
    """The variant's network in eval mode on the CPU, with the weights its test metrics were measured with
    (``checkpoints/final.ckpt`` when training ended past the best validation epoch without early stopping, else
    ``checkpoints/best.ckpt``)."""
    from trainlab.models.recipe import build_recipe_model

    recipe = load_recipe(variant_dir / CONFIG_FILE)
    checkpoint = evaluated_checkpoint(variant_dir)
    weights = read_weights(checkpoint)
    with prediction_recipe(recipe, weights, checkpoint) as built_from:
        model = build_recipe_model(built_from, num_classes, spec)
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        detail = " ".join(str(error).split())
        raise TrainlabError(f"checkpoint {checkpoint} does not fit the model {variant_dir / CONFIG_FILE} describes "
                            f"({detail[:300]}); was the folder's config.yaml or input.json changed?") from None
    return model.eval()


# --- prediction -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Predictor:
    """A variant's model, ready to label texts."""

    variant_dir: Path
    model: nn.Module
    spec: TokenSpec
    classes: tuple[str, ...]

    def probabilities(self, texts: Sequence[SourcedText]) -> torch.Tensor:
        """[N, C] class probabilities of ``texts``; a text without tokens is an error naming where it came from."""
        from trainlab.data.text.tokenize import TOKENIZERS
        from trainlab.data.text.vocab import encode_texts

        tokenizer = TOKENIZERS.build(self.spec.tokenizer)
        for item in texts:
            if not tokenizer.tokenize(item.text):
                raise TrainlabError(f"{item.origin} ({_preview(item.text)}) has no tokens for the "
                                    f"{self.spec.tokenizer!r} tokenizer; every text to classify needs at least one "
                                    "word, emoji or symbol")
        tokens, lengths = encode_texts([item.text for item in texts], self.spec)
        chunks = []
        with torch.no_grad():
            for start in range(0, len(texts), BATCH):
                batch_lengths = lengths[start : start + BATCH]
                batch = tokens[start : start + BATCH, : int(batch_lengths.max())]
                chunks.append(torch.softmax(self.model(batch, batch_lengths).float(), dim=1))
        return torch.cat(chunks) if chunks else torch.empty(0, len(self.classes))

    def predict(self, texts: Sequence[SourcedText]) -> list[Prediction]:
        probabilities = self.probabilities(texts).tolist()
        return [Prediction(item.text, self.classes[max(range(len(row)), key=row.__getitem__)],
                           dict(zip(self.classes, row, strict=True)))
                for item, row in zip(texts, probabilities, strict=True)]


def _preview(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def load_predictor(path: Path) -> Predictor:
    """The predictor of the variant folder ``path`` names (see :func:`resolve_variant_dir`)."""
    variant_dir = resolve_variant_dir(path)
    record, spec = read_input_record(variant_dir)
    model = load_model(variant_dir, len(record.classes), spec)
    return Predictor(variant_dir, model, spec, tuple(record.classes))


def predict_texts(path: Path, texts: Sequence[str]) -> list[Prediction]:
    """Label ``texts`` with the variant at ``path``: the library entry point of ``trainlab predict``."""
    sourced = [SourcedText(text, f"text {number}") for number, text in enumerate(texts, start=1)]
    return load_predictor(path).predict(sourced)
