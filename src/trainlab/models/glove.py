"""Pretrained word vectors in GloVe's text format (``word v1 v2 ... vD``, one word a line, no header).

:func:`load_glove` reads such a file for a given vocabulary and returns the embedding matrix and its coverage. It
streams the file and parses the numbers of the vocabulary's words only, so the full 400,000-word GloVe 6B is read in
about a second: every line's dimension is checked (a count of separators, exact split only on a mismatch), but the
values of words outside the vocabulary are never parsed, so a non-number there goes unnoticed (it cannot matter).

Matching is case-insensitive: vocabulary token ``The`` takes the vector of ``the``. Where the file holds several
spellings (cased files such as GloVe 840B), the exact spelling wins, else the first one in the file (GloVe files are
sorted by frequency). Words the file lacks get N(0, 0.1²) vectors drawn from torch's generator (seeding reproduces
them); the pad row is zeros. Under ``with torch.device("meta"):`` the file is still read and checked — the coverage is
real — but the returned tensor is a meta tensor and holds nothing.

Words are UTF-8; a word that is not (the official ``glove.6B`` files hold a few Windows-1252 punctuation words such as
byte ``0x92`` + ``s``, the curly ``’s``) is read as Windows-1252, so it still matches the tweet token it spells.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from trainlab.data.specs import UNK
from trainlab.errors import TrainlabError

MISSING_STD = 0.1  # the spread of the random vectors of words the file lacks (GloVe 6B values spread about 0.4)


def _open_error(path: Path) -> TrainlabError:
    if not path.exists():
        return TrainlabError(f"embeddings file {str(path)!r} does not exist; expected a GloVe text file "
                             "(word followed by its numbers, one word a line)")
    return TrainlabError(f"embeddings file {str(path)!r} is not a readable file")


def _dimension_error(path: Path, lineno: int, found: int, expected: int) -> TrainlabError:
    hint = ""
    if lineno == 2 and expected == 1:
        hint = " (a first line of two numbers is a word2vec header: GloVe files have none; delete that line)"
    return TrainlabError(f"embeddings file {str(path)!r} line {lineno}: {found} values after the word, but line 1 "
                         f"has {expected}; every line must be a word followed by the same number of values{hint}")


def _parse_vector(path: Path, lineno: int, rest: bytes) -> list[float]:
    """The numbers of one kept line; a non-number or non-finite value is an error naming file and line."""
    values = []
    for field in rest.split():
        try:
            value = float(field)
        except ValueError:
            shown = field.decode("utf-8", "replace")[:40]
            raise TrainlabError(f"embeddings file {str(path)!r} line {lineno}: value {shown!r} is not a number"
                                ) from None
        if not math.isfinite(value):
            raise TrainlabError(f"embeddings file {str(path)!r} line {lineno}: value {value} is not finite")
        values.append(value)
    return values


def _decode(word: bytes) -> str:
    """A word as text: UTF-8, else Windows-1252 (GloVe 6B holds a few such words, e.g. b"\\x92s" for "’s")."""
    try:
        return word.decode("utf-8")
    except UnicodeDecodeError:
        return word.decode("cp1252", errors="replace")


def _read_vectors(path: Path, wanted: dict[str, list[int]], vocab: Sequence[str]) -> tuple[dict[int, list[float]], int]:
    """Vectors of the vocabulary ids found in ``path`` (id → values) and the file's dimension.

    ``wanted`` maps lowercase tokens to the ids spelled that way. An id keeps the first matching word of the file
    unless a later word is its exact spelling (kept in ``exact``)."""
    found: dict[int, list[float]] = {}
    exact: set[int] = set()
    dim = 0
    try:
        handle = path.open("rb")
    except OSError:
        raise _open_error(path) from None
    with handle:
        for lineno, raw in enumerate(handle, 1):
            line = raw.rstrip()
            if not line:
                continue
            word_bytes, *tail = line.split(maxsplit=1)
            rest = tail[0] if tail else b""
            if dim == 0:
                dim = len(rest.split())
                if dim == 0:
                    raise TrainlabError(f"embeddings file {str(path)!r} line {lineno}: a word without values; "
                                        "expected a word followed by its numbers")
            elif not rest or (rest.count(b" ") + 1 != dim and len(rest.split()) != dim):  # exact split on mismatch
                raise _dimension_error(path, lineno, len(rest.split()), dim)
            word = _decode(word_bytes)
            ids = wanted.get(word.lower())
            if not ids:
                continue
            todo = [i for i in ids if i not in exact and (i not in found or vocab[i] == word)]
            if todo:
                vector = _parse_vector(path, lineno, rest)
                for i in todo:
                    found[i] = vector
                    if vocab[i] == word:
                        exact.add(i)
    if dim == 0:
        raise TrainlabError(f"embeddings file {str(path)!r} is empty; expected a GloVe text file "
                            "(word followed by its numbers, one word a line)")
    return found, dim


def load_glove(path: str | os.PathLike[str], vocab: Sequence[str], *, pad_id: int,
               unk_id: int | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
    """The embedding matrix [V, D] for ``vocab`` (index → token) from the GloVe text file ``path``, and its coverage.

    Coverage: ``{"embeddings": file name, "embedding_dim": D, "coverage": found / vocab, "found": n, "vocab": m}``
    over the vocabulary's tokens other than pad and unk (``unk_id``, default the index of ``<unk>`` when present).
    See the module docstring for matching and the rows of missing words.
    """
    path = Path(path).expanduser()
    if unk_id is None and UNK in vocab:
        unk_id = list(vocab).index(UNK)
    specials = {pad_id, unk_id}
    wanted: dict[str, list[int]] = {}
    for i, token in enumerate(vocab):
        if i not in specials:
            wanted.setdefault(token.lower(), []).append(i)
    found, dim = _read_vectors(path, wanted, vocab)

    weights = torch.randn(len(vocab), dim) * MISSING_STD
    if found:
        ids = sorted(found)
        weights[torch.tensor(ids)] = torch.tensor([found[i] for i in ids], dtype=weights.dtype)
    weights[pad_id] = 0.0
    counted = sum(len(ids) for ids in wanted.values())
    coverage = {
        "embeddings": path.name,
        "embedding_dim": dim,
        "coverage": len(found) / counted if counted else 0.0,
        "found": len(found),
        "vocab": counted,
    }
    return weights, coverage
