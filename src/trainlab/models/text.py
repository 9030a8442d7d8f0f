"""Text models: token ids [B, L] (padded with ``pad_id`` after each real length) and lengths [B] → class logits [B, C].

Three families, each one class and one builder, registered under several names as data (:data:`RECURRENT`):

* recurrent (``lstm``, ``bilstm``, ``gru``, ``rnn``) — the course's base model, at width 1::

      Embedding(V, 128, padding_idx=pad) → LSTM(128 → 256, num_layers=3, batch_first) → Dropout → Linear(256, C)

  The embedded batch is packed (``pack_padded_sequence``, unsorted) so every sequence stops at its last real token;
  the logits come from the last layer's final hidden state h_n (forward and backward directions concatenated when
  bidirectional), never from ``out[:, -1]`` of the padded tensor: a padded sequence gives exactly the logits of the
  unpadded one. ``dropout`` is the recurrent layers' inter-layer dropout (with more than one layer) and a Dropout
  before the Linear. ``gru`` and ``rnn`` (tanh) swap the cell; ``bilstm`` is ``lstm`` with ``bidirectional=True``.
* ``bow``: logistic regression on the bag of words, ``Linear(V, C)`` applied to each text's token count vector
  (presence with ``binary=True``), computed as an ``EmbeddingBag`` sum of the tokens' weight rows plus a bias: exactly
  ``V·C + C`` parameters. The pad row is among them (so the count is that of the Linear) but pad tokens are left out
  of every bag, so it stays zero and untrained. ``width`` has nothing to scale here.
* ``mean_embedding``: Embedding(V, 128) → mean over the real tokens (pad excluded by the lengths) → Dropout →
  Linear(D, C). ``glove`` is the same model on pretrained GloVe vectors (``embeddings`` required), frozen by default.

``width`` scales the embedding and hidden sizes (``max(1, round(size * width))``). With ``embeddings`` (a GloVe text
file, see :mod:`trainlab.models.glove`) the embedding size is the file's, whatever the width, and an explicit
``embed_dim`` that differs from it is an error. Every model has ``notes``: the GloVe coverage of its vocabulary when
built with ``embeddings`` (``{"embeddings", "embedding_dim", "coverage", "found", "vocab"}``), else ``{}``.

On the meta device (the trainer's shape checks) the lengths cannot be read, so the recurrent models run the padded
batch unpacked there: the same shapes, no values.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from trainlab.calc import params as calc
from trainlab.errors import TrainlabError
from trainlab.models.common import scaled
from trainlab.models.glove import load_glove
from trainlab.models.registry import MODELS
from trainlab.validate import check_int

CELLS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
# model name → (cell, bidirectional by default, description)
RECURRENT: dict[str, tuple[str, bool, str]] = {
    "lstm": ("lstm", False, "embedding → 3-layer LSTM(256) → last hidden state → linear (the course's base model)"),
    "bilstm": ("lstm", True, "embedding → bidirectional 3-layer LSTM(256) → both final states → linear"),
    "gru": ("gru", False, "embedding → 3-layer GRU(256) → last hidden state → linear"),
    "rnn": ("rnn", False, "embedding → 3-layer tanh RNN(256) → last hidden state → linear"),
}
EMBED_DIM = 128
HIDDEN = 256
MAX_SIZE = 1 << 16  # embedding or hidden units: 512x the course's; an LSTM layer of that size has 34 G parameters
MAX_LAYERS = 64


class RecurrentClassifier(nn.Module):
    """Embedding → packed LSTM / GRU / RNN → last layer's final hidden state(s) → Dropout → Linear."""

    def __init__(self, embedding: nn.Embedding, cell: str, hidden: int, num_layers: int, bidirectional: bool,
                 num_classes: int, dropout: float, notes: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.embedding = embedding
        self.rnn = CELLS[cell](embedding.embedding_dim, hidden, num_layers=num_layers, batch_first=True,
                               bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)
        self.directions = 2 if bidirectional else 1
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(self.directions * hidden, num_classes)
        self.notes: dict[str, Any] = dict(notes or {})

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        emb = self.embedding(tokens)
        if emb.is_meta:  # shapes only: the lengths cannot be read on the meta device
            _, state = self.rnn(emb)
        else:
            packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
            _, state = self.rnn(packed)  # h_n comes back in the batch's order, not the sorted one
        h_n = state[0] if isinstance(state, tuple) else state  # LSTM: (h_n, c_n); h_n [layers·dirs, B, H]
        last = h_n[-self.directions :]  # the last layer: forward, then backward
        features = last.transpose(0, 1).reshape(tokens.shape[0], -1)
        return self.fc(self.dropout(features))


class MeanEmbeddingClassifier(nn.Module):
    """Embedding → mean over the real tokens (the first ``length`` of each row) → Dropout → Linear."""

    def __init__(self, embedding: nn.Embedding, num_classes: int, dropout: float,
                 notes: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.embedding = embedding
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(embedding.embedding_dim, num_classes)
        self.notes: dict[str, Any] = dict(notes or {})

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        emb = self.embedding(tokens)
        real = _real_positions(tokens, lengths).unsqueeze(-1).to(emb.dtype)
        counts = lengths.to(device=emb.device, dtype=emb.dtype).clamp(min=1).unsqueeze(1)
        return self.fc(self.dropout((emb * real).sum(dim=1) / counts))


class BagOfWords(nn.Module):
    """``Linear(V, C)`` on the token counts (or presence): an EmbeddingBag sum of weight rows, plus a bias."""

    def __init__(self, vocab_size: int, num_classes: int, pad_id: int, binary: bool) -> None:
        super().__init__()
        self.pad_id = pad_id
        self.binary = binary
        self.bag = nn.EmbeddingBag(vocab_size, num_classes, mode="sum", padding_idx=pad_id)
        self.bias = nn.Parameter(torch.empty(num_classes))
        bound = 1 / vocab_size**0.5  # nn.Linear(V, C)'s initialisation
        nn.init.uniform_(self.bag.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)
        with torch.no_grad():
            self.bag.weight[pad_id].zero_()
        self.notes: dict[str, Any] = {}

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        tokens = tokens.masked_fill(~_real_positions(tokens, lengths), self.pad_id)
        if self.binary:  # sorted, a repeat of the previous token becomes pad: each token counts once
            tokens = tokens.sort(dim=1).values
            repeat = torch.zeros_like(tokens, dtype=torch.bool)
            repeat[:, 1:] = tokens[:, 1:] == tokens[:, :-1]
            tokens = tokens.masked_fill(repeat, self.pad_id)
        return self.bag(tokens) + self.bias


def _real_positions(tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """[B, L] bool: True at each row's first ``length`` positions."""
    positions = torch.arange(tokens.shape[1], device=tokens.device)
    return positions.unsqueeze(0) < lengths.to(tokens.device).unsqueeze(1)


# --- parameter counts (PyTorch's convention: two bias vectors per gate set) -------------------------------------------


def recurrent_params(cell: str, vocab_size: int, embed_dim: int, hidden: int, num_layers: int, bidirectional: bool,
                     num_classes: int) -> int:
    """``V·E`` + per layer and direction ``gates·(h·in + h·h + 2h)`` (gates: LSTM 4, GRU 3, RNN 1; ``in`` is E for the
    first layer, ``dirs·h`` after) + ``dirs·h·C + C``."""
    directions = 2 if bidirectional else 1
    total = calc.embedding_params(vocab_size, embed_dim)
    inputs = embed_dim
    for _ in range(num_layers):
        total += directions * calc.recurrent_params(cell, inputs, hidden)
        inputs = directions * hidden
    return total + calc.linear_params(directions * hidden, num_classes)


def bow_params(vocab_size: int, num_classes: int) -> int:
    """``V·C + C``: the Linear on the count vector (the pad row included, though it stays zero)."""
    return calc.linear_params(vocab_size, num_classes)


def mean_embedding_params(vocab_size: int, embed_dim: int, num_classes: int) -> int:
    """``V·E + E·C + C`` (also the ``glove`` model's, with E the file's dimension)."""
    return calc.embedding_params(vocab_size, embed_dim) + calc.linear_params(embed_dim, num_classes)


# --- option checks and the shared embedding -----------------------------------------------------------------------


def _size(model: str, option: str, value: object, maximum: int) -> int:
    return check_int(f"model {model!r} option {option!r}", value, 1, maximum)


def _flag(model: str, option: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TrainlabError(f"model {model!r} option {option!r} must be true or false, got {value!r}")
    return value


ENCODER_EMBEDDINGS = "minilm"  # embeddings: minilm takes all-MiniLM-L6-v2's word-piece input embeddings


def encoder_embedding(model: str, *, vocab_size: int, pad_id: int, embed_dim: int | None,
                      freeze: bool) -> tuple[nn.Embedding, dict[str, Any]]:
    """The input (word-piece) embedding table of the packaged all-MiniLM-L6-v2, for token data made by the ``minilm``
    tokenizer: pretrained vectors for every token of its vocabulary, without the transformer above them."""
    from safetensors import safe_open

    from trainlab.data.text.minilm import minilm_dir

    with safe_open(str(minilm_dir() / "model.safetensors"), "pt") as weights:
        table = weights.get_tensor("embeddings.word_embeddings.weight")
    if table.shape[0] != vocab_size:
        raise TrainlabError(f"model {model!r} option embeddings=minilm needs the minilm tokenizer's vocabulary "
                            f"({table.shape[0]:,} tokens), got {vocab_size:,}: set data.options.tokenizer=minilm")
    if embed_dim is not None and embed_dim != table.shape[1]:
        raise TrainlabError(f"model {model!r} option 'embed_dim' is {embed_dim} but embeddings=minilm has "
                            f"{table.shape[1]} values per token; leave embed_dim out")
    notes = {"embeddings": "all-MiniLM-L6-v2 word pieces", "embedding_dim": int(table.shape[1]), "coverage": 1.0,
             "found": vocab_size, "vocab": vocab_size}
    return nn.Embedding.from_pretrained(table.float(), freeze=freeze, padding_idx=pad_id), notes


def make_embedding(model: str, *, vocab_size: int, pad_id: int, vocab: Sequence[str] | None, embed_dim: int | None,
                   width: float, embeddings: str | os.PathLike[str] | None,
                   freeze: bool) -> tuple[nn.Embedding, dict[str, Any]]:
    """The model's Embedding (random, or from the GloVe file ``embeddings``) and its notes (the coverage, or {})."""
    _flag(model, "freeze_embeddings", freeze)
    if embed_dim is not None:
        _size(model, "embed_dim", embed_dim, MAX_SIZE)
    if embeddings is None:
        dim = scaled(EMBED_DIM if embed_dim is None else embed_dim, width)
        embedding = nn.Embedding(vocab_size, dim, padding_idx=pad_id)
        embedding.weight.requires_grad_(not freeze)
        return embedding, {}
    if embeddings == ENCODER_EMBEDDINGS:
        return encoder_embedding(model, vocab_size=vocab_size, pad_id=pad_id, embed_dim=embed_dim, freeze=freeze)
    if not isinstance(embeddings, str | os.PathLike) or not str(embeddings):
        raise TrainlabError(f"model {model!r} option 'embeddings' must be the path of a GloVe text file, "
                            f"got {embeddings!r}")
    if vocab is None:
        raise TrainlabError(f"model {model!r} option 'embeddings' needs the vocabulary to look its words up, and none "
                            "was given; pretrained embeddings work with token data that carries its vocabulary")
    if len(vocab) != vocab_size:
        raise TrainlabError(f"vocab has {len(vocab)} tokens but vocab_size is {vocab_size}")
    weights, notes = load_glove(embeddings, vocab, pad_id=pad_id)
    if embed_dim is not None and embed_dim != notes["embedding_dim"]:
        raise TrainlabError(f"model {model!r} option 'embed_dim' is {embed_dim} but the embeddings file "
                            f"{str(embeddings)!r} has {notes['embedding_dim']} values per word; leave embed_dim out "
                            "(it comes from the file) or set it to that")
    return nn.Embedding.from_pretrained(weights, freeze=freeze, padding_idx=pad_id), notes


# --- builders ---------------------------------------------------------------------------------------------------------


def build_recurrent(
    name: str,
    *,
    num_classes: int,
    vocab_size: int,
    pad_id: int = 0,
    vocab: Sequence[str] | None = None,
    dropout: float = 0.0,
    width: float = 1.0,
    embed_dim: int | None = None,
    hidden: int = HIDDEN,
    num_layers: int = 3,
    bidirectional: bool = False,
    embeddings: str | None = None,
    freeze_embeddings: bool = False,
) -> RecurrentClassifier:
    """The recurrent model ``name`` of :data:`RECURRENT`; ``embed_dim`` None means 128 (or the embeddings file's)."""
    cell = RECURRENT[name][0]
    hidden = scaled(_size(name, "hidden", hidden, MAX_SIZE), width)
    _size(name, "num_layers", num_layers, MAX_LAYERS)
    _flag(name, "bidirectional", bidirectional)
    embedding, notes = make_embedding(name, vocab_size=vocab_size, pad_id=pad_id, vocab=vocab, embed_dim=embed_dim,
                                      width=width, embeddings=embeddings, freeze=freeze_embeddings)
    return RecurrentClassifier(embedding, cell, hidden, num_layers, bidirectional, num_classes, dropout, notes)


for _name, (_cell, _bidirectional, _description) in RECURRENT.items():
    MODELS.register(_name, input="tokens", description=_description)(
        functools.partial(build_recurrent, _name, bidirectional=_bidirectional)
    )


@MODELS.register("bow", input="tokens", description="bag of words: token counts → linear (logistic regression)")
def build_bow(
    *,
    num_classes: int,
    vocab_size: int,
    pad_id: int = 0,
    vocab: Sequence[str] | None = None,
    dropout: float = 0.0,
    width: float = 1.0,
    binary: bool = False,
) -> BagOfWords:
    """Counts (or presence, ``binary``) → Linear; ``vocab``, ``dropout`` and ``width`` do not apply."""
    del vocab, dropout, width
    return BagOfWords(vocab_size, num_classes, pad_id, _flag("bow", "binary", binary))


@MODELS.register("mean_embedding", input="tokens", description="embedding → mean over the tokens → linear")
def build_mean_embedding(
    *,
    num_classes: int,
    vocab_size: int,
    pad_id: int = 0,
    vocab: Sequence[str] | None = None,
    dropout: float = 0.0,
    width: float = 1.0,
    embed_dim: int | None = None,
    embeddings: str | None = None,
    freeze_embeddings: bool = False,
) -> MeanEmbeddingClassifier:
    """Mean of the token embeddings → Linear; ``embed_dim`` None means 128 (or the embeddings file's)."""
    embedding, notes = make_embedding("mean_embedding", vocab_size=vocab_size, pad_id=pad_id, vocab=vocab,
                                      embed_dim=embed_dim, width=width, embeddings=embeddings,
                                      freeze=freeze_embeddings)
    return MeanEmbeddingClassifier(embedding, num_classes, dropout, notes)


@MODELS.register("glove", input="tokens", description="pretrained GloVe vectors (frozen) → mean → linear")
def build_glove(
    *,
    num_classes: int,
    vocab_size: int,
    pad_id: int = 0,
    vocab: Sequence[str] | None = None,
    dropout: float = 0.0,
    width: float = 1.0,
    embed_dim: int | None = None,
    embeddings: str | None = None,
    freeze_embeddings: bool = True,
) -> MeanEmbeddingClassifier:
    """``mean_embedding`` on the GloVe file ``embeddings`` (required), frozen unless ``freeze_embeddings`` is false."""
    if embeddings is None:
        raise TrainlabError("model 'glove' needs pretrained word vectors: set model.options.embeddings="
                            "path/to/glove.txt (a GloVe text file, e.g. glove.6B.50d.txt)")
    embedding, notes = make_embedding("glove", vocab_size=vocab_size, pad_id=pad_id, vocab=vocab,
                                      embed_dim=embed_dim, width=width, embeddings=embeddings,
                                      freeze=freeze_embeddings)
    return MeanEmbeddingClassifier(embedding, num_classes, dropout, notes)
