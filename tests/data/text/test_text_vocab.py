"""Vocabulary building, lookup, and texts → padded id tensors (what ``trainlab predict`` calls)."""

from __future__ import annotations

import random
from collections.abc import Mapping

import pytest
import torch

from trainlab.data.specs import TokenSpec
from trainlab.data.text.tokenize import TOKENIZERS, Tokenizer
from trainlab.data.text.vocab import build_vocabulary, encode, encode_texts, pad_sequences, vocabulary_index
from trainlab.errors import TrainlabError

LISTS = [["b", "a", "a", "c"], ["b", "a", "d"], ["e"]]


@pytest.mark.parametrize(
    ("min_freq", "max_size", "expected"),
    [
        (1, 100, ("<pad>", "<unk>", "a", "b", "c", "d", "e")),  # a:3, b:2, then c, d, e (1 each) alphabetically
        (2, 100, ("<pad>", "<unk>", "a", "b")),
        (1, 4, ("<pad>", "<unk>", "a", "b")),
        (1, 5, ("<pad>", "<unk>", "a", "b", "c")),
        (4, 100, ("<pad>", "<unk>")),
        (1, 2, ("<pad>", "<unk>")),
    ],
)
def test_build_vocabulary(min_freq: int, max_size: int, expected: tuple[str, ...]) -> None:
    assert build_vocabulary(LISTS, min_freq=min_freq, max_size=max_size) == expected


def test_vocabulary_is_deterministic_whatever_the_order() -> None:
    rng = random.Random(0)
    lists = [[rng.choice("abcdefgh") for _ in range(rng.randint(1, 6))] for _ in range(200)]
    first = build_vocabulary(lists, min_freq=1, max_size=6)
    for _ in range(5):
        shuffled = [rng.sample(tokens, len(tokens)) for tokens in rng.sample(lists, len(lists))]
        assert build_vocabulary(shuffled, min_freq=1, max_size=6) == first


def test_specials_in_the_data_are_not_listed_twice() -> None:
    assert build_vocabulary([["<unk>", "x", "<pad>", "x"]], min_freq=1, max_size=10) == ("<pad>", "<unk>", "x")


@pytest.mark.parametrize(("min_freq", "max_size"), [(0, 10), (1, 1)])
def test_bad_vocabulary_arguments(min_freq: int, max_size: int) -> None:
    with pytest.raises(ValueError, match="min_freq must be >= 1 and max_size >= 2"):
        build_vocabulary(LISTS, min_freq=min_freq, max_size=max_size)


def test_encode_maps_unknown_tokens_to_unk() -> None:
    index = vocabulary_index(("<pad>", "<unk>", "a", "b"))
    assert encode(["b", "zzz", "a", "a"], index, 1) == [3, 1, 2, 2]


def test_pad_sequences_cuts_and_pads() -> None:
    tokens, lengths = pad_sequences([[5, 6, 7], [8], [9, 9, 9, 9, 9]], max_len=4, pad_id=0)
    assert tokens.tolist() == [[5, 6, 7, 0], [8, 0, 0, 0], [9, 9, 9, 9]]
    assert lengths.tolist() == [3, 1, 4]
    assert tokens.dtype == lengths.dtype == torch.int64
    assert tuple(pad_sequences([], max_len=4, pad_id=0)[0].shape) == (0, 1)
    with pytest.raises(ValueError, match="sequence 1 is empty"):
        pad_sequences([[1], []], max_len=4, pad_id=0)


def test_encode_texts_round_trip() -> None:
    vocab = ("<pad>", "<unk>", "thanks", "@united", "!!", "late", "again", "!")
    spec = TokenSpec(vocab=vocab, max_len=4, tokenizer="tweet")
    texts = ["Thanks @united!!", "LATE again, really", "thanks thanks thanks thanks thanks", "!"]
    tokens, lengths = encode_texts(texts, spec)
    assert lengths.tolist() == [3, 4, 4, 1]
    assert tokens.tolist() == [[2, 3, 4, 0], [5, 6, 1, 1], [2, 2, 2, 2], [7, 0, 0, 0]]
    tokenizer = TOKENIZERS.build("tweet")
    for row, text in enumerate(texts):
        decoded = [vocab[i] for i in tokens[row, : lengths[row]].tolist()]
        expected = [token if token in vocab else "<unk>" for token in tokenizer.tokenize(text)][: spec.max_len]
        assert decoded == expected


def test_encode_texts_names_an_empty_text() -> None:
    spec = TokenSpec(vocab=("<pad>", "<unk>", "ok"), max_len=8)
    with pytest.raises(TrainlabError, match=r"text 2 of 3 \('  \\n'\) has no tokens for the 'tweet' tokenizer"):
        encode_texts(["ok", "  \n", "fine"], spec)


def test_encode_texts_unknown_tokenizer() -> None:
    spec = TokenSpec(vocab=("<pad>", "<unk>"), max_len=8, tokenizer="nope")
    with pytest.raises(TrainlabError, match="unknown tokenizer 'nope'"):
        encode_texts(["ok"], spec)


class FixedWordPiece(Tokenizer):
    """A stand-in for a pretrained tokenizer: its own vocabulary and ids, [CLS] ... [SEP] around the pieces."""

    name = "fixed_test"
    VOCAB = ("[PAD]", "[CLS]", "[SEP]", "[UNK]", "ok", "go", "!")

    def tokenize(self, text: str) -> list[str]:
        return text.lower().replace("!", " ! ").split()

    def fixed_vocabulary(self) -> tuple[tuple[str, ...], int, int]:
        return self.VOCAB, 0, 3

    def encode(self, text: str, index: Mapping[str, int], unk_id: int) -> list[int]:
        del index, unk_id  # the tokenizer's own lookup
        return [1, *(self.VOCAB.index(t) if t in self.VOCAB else 3 for t in self.tokenize(text)), 2]


@pytest.fixture
def fixed_tokenizer(monkeypatch: pytest.MonkeyPatch) -> str:
    """FixedWordPiece registered as ``fixed_test`` for one test."""
    monkeypatch.setitem(TOKENIZERS._builders, FixedWordPiece.name, FixedWordPiece)
    monkeypatch.setitem(TOKENIZERS._metadata, FixedWordPiece.name, {})
    return FixedWordPiece.name


def test_encode_texts_uses_a_fixed_vocabulary_tokenizers_own_ids(fixed_tokenizer: str) -> None:
    spec = TokenSpec(vocab=FixedWordPiece.VOCAB, max_len=4, tokenizer=fixed_tokenizer, pad_id=0, unk_id=3)
    tokens, lengths = encode_texts(["OK go!", "what"], spec)
    assert tokens.tolist() == [[1, 4, 5, 6], [1, 3, 2, 0]]
    assert lengths.tolist() == [4, 3]
    with pytest.raises(TrainlabError, match="text 1 of 1"):  # [CLS] [SEP] alone is still an empty text
        encode_texts([" "], spec)
