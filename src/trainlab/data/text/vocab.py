"""Vocabularies built from the train split, and texts → padded token-id tensors.

:func:`encode_texts` is what ``trainlab predict`` calls on new text with a run's :class:`TokenSpec`, so the texts are
tokenized, looked up, truncated and padded exactly as the training data was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch

from trainlab.data.specs import PAD, UNK, TokenSpec
from trainlab.data.text.tokenize import TOKENIZERS
from trainlab.errors import TrainlabError

SPECIALS = (PAD, UNK)
PAD_ID, UNK_ID = 0, 1


def build_vocabulary(token_lists: Iterable[Sequence[str]], *, min_freq: int, max_size: int) -> tuple[str, ...]:
    """``<pad>`` (0), ``<unk>`` (1), then every token seen at least ``min_freq`` times, most frequent first and ties
    in alphabetical order (so the same texts always give the same ids), cut to ``max_size`` entries in all."""
    if min_freq < 1 or max_size < len(SPECIALS):
        raise ValueError(f"min_freq must be >= 1 and max_size >= {len(SPECIALS)}, got {min_freq} and {max_size}")
    counts = Counter(token for tokens in token_lists for token in tokens)
    for special in SPECIALS:
        counts.pop(special, None)
    kept = sorted((item for item in counts.items() if item[1] >= min_freq), key=lambda item: (-item[1], item[0]))
    return SPECIALS + tuple(token for token, _ in kept[: max_size - len(SPECIALS)])


def vocabulary_index(vocab: Sequence[str]) -> dict[str, int]:
    """token → id (the first id of a token listed twice)."""
    index: dict[str, int] = {}
    for position, token in enumerate(vocab):
        index.setdefault(token, position)
    return index


def encode(tokens: Iterable[str], index: Mapping[str, int], unk_id: int) -> list[int]:
    """Token ids; a token missing from ``index`` becomes ``unk_id``."""
    return [index.get(token, unk_id) for token in tokens]


def pad_sequences(id_lists: Sequence[Sequence[int]], max_len: int, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tokens int64 [N, L], lengths int64 [N])``: each sequence cut to ``max_len`` and padded with ``pad_id`` after
    its end; ``L`` is the longest kept length (1 for no sequences). Every sequence must have at least one id."""
    lengths = np.fromiter((min(len(ids), max_len) for ids in id_lists), dtype=np.int64, count=len(id_lists))
    if len(lengths) and int(lengths.min()) < 1:
        raise ValueError(f"sequence {int(lengths.argmin())} is empty; every sequence needs at least one id")
    width = int(lengths.max()) if len(lengths) else 1
    tokens = np.full((len(id_lists), width), pad_id, dtype=np.int64)
    for row, (ids, length) in enumerate(zip(id_lists, lengths.tolist(), strict=True)):
        tokens[row, :length] = ids[:length]
    return torch.from_numpy(tokens), torch.from_numpy(lengths)


def _preview(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def encode_texts(texts: Sequence[str], spec: TokenSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tokens int64 [N, L], lengths int64 [N])`` of ``texts`` under ``spec``: tokenized by ``spec.tokenizer``,
    looked up in ``spec.vocab`` (unknown tokens → ``spec.unk_id``; a pretrained tokenizer uses its own ids), cut to
    ``spec.max_len`` and padded with ``spec.pad_id``. A text with no tokens is a :class:`TrainlabError` naming it."""
    tokenizer = TOKENIZERS.build(spec.tokenizer)
    index = vocabulary_index(spec.vocab)
    fixed = tokenizer.fixed_vocabulary() is not None
    id_lists = []
    for position, text in enumerate(texts):
        ids = tokenizer.encode(text, index, spec.unk_id)
        if not ids or (fixed and not tokenizer.tokenize(text)):
            raise TrainlabError(
                f"text {position + 1} of {len(texts)} ({_preview(text)}) has no tokens for the {spec.tokenizer!r} "
                "tokenizer; every text to classify needs at least one word, emoji or symbol"
            )
        id_lists.append(ids)
    return pad_sequences(id_lists, spec.max_len, spec.pad_id)
