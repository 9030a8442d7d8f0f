"""Token splits: validation, identity, and the dict batches their loader cuts to the longest real length."""

from __future__ import annotations

import pytest
import torch

from trainlab.data import DataBundle, TokenSpec, TokenSplit, make_loader
from trainlab.data.specs import ImageSpec


def _split(lengths: list[int], width: int = 6, labels: list[int] | None = None) -> TokenSplit:
    tokens = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, length in enumerate(lengths):
        tokens[row, : min(length, width)] = torch.arange(2, 2 + min(length, width))
    return TokenSplit(tokens, torch.tensor(lengths), torch.tensor(labels or [0] * len(lengths)),
                      ids=tuple(f"row {i + 1}" for i in range(len(lengths))),
                      texts=tuple(f"text {i}" for i in range(len(lengths))))


def test_loader_yields_dict_batches_cut_to_the_longest_real_length() -> None:
    split = _split([2, 3, 1, 5], labels=[0, 1, 0, 1])
    batches = list(make_loader(split, batch_size=2, shuffle=False, seed=0))
    assert [set(batch) for batch in batches] == [{"x", "lengths", "y"}] * 2
    first, second = batches
    assert first["x"].shape == (2, 3) and second["x"].shape == (2, 5)  # longest real lengths 3 and 5, not 6
    assert first["lengths"].tolist() == [2, 3] and second["y"].tolist() == [0, 1]
    assert first["x"][0].tolist() == [2, 3, 0]


def test_shuffled_batches_cover_every_text_once() -> None:
    split = _split([1, 2, 3, 4, 5, 6], labels=[0, 1, 2, 3, 4, 5])
    seen = [label for batch in make_loader(split, batch_size=4, shuffle=True, seed=3) for label in batch["y"].tolist()]
    assert sorted(seen) == list(range(6))


@pytest.mark.parametrize(("lengths", "message"), [([0, 2], "lengths must lie in 1..6"), ([2, 7], "lengths must lie")])
def test_lengths_outside_the_row_are_refused(lengths: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _split(lengths)


def test_a_token_bundle_needs_its_spec_and_reports_it() -> None:
    split = _split([2, 3], labels=[0, 1])
    with pytest.raises(ValueError, match="a bundle of TokenSplits needs its input spec"):
        DataBundle(split, split, split, ["a", "b"])
    spec = TokenSpec(vocab=("<pad>", "<unk>", *(f"w{i}" for i in range(8))), max_len=6)
    bundle = DataBundle(split, split, split, ["a", "b"], input=spec, profile={"max_len": 6})
    summary = bundle.summary()
    assert summary["input"] == {"kind": "tokens", "vocab_size": 10, "max_len": 6, "tokenizer": "tweet",
                                "pad_id": 0, "unk_id": 1}
    assert "image_shape" not in summary and summary["profile"] == {"max_len": 6}
    assert not bundle.is_image and bundle.in_memory
    with pytest.raises(TypeError, match="no image shape"):
        _ = bundle.image_shape
    assert TokenSpec.from_dict(spec.to_dict()).vocab == spec.vocab


def test_the_fingerprint_changes_with_any_token() -> None:
    spec = TokenSpec(vocab=("<pad>", "<unk>", *(f"w{i}" for i in range(8))), max_len=6)
    one = _split([2, 3], labels=[0, 1])
    other = _split([2, 3], labels=[0, 1])
    other.tokens[1, 0] = 9
    same = _split([2, 3], labels=[0, 1])
    prints = [DataBundle(s, s, s, ["a", "b"], input=spec).fingerprint() for s in (one, same, other)]
    assert prints[0] == prints[1] != prints[2]


def test_image_bundles_keep_their_derived_image_spec() -> None:
    from trainlab.data import TensorSplit

    split = TensorSplit(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]))
    bundle = DataBundle(split, split, split, ["a", "b"])
    assert bundle.input == ImageSpec(3, 4, 4) and bundle.image_shape == (3, 4, 4) and bundle.is_image


@pytest.mark.parametrize(("vocab", "pad", "unk"), [(("<pad>",), 0, 1), (("a", "b"), 0, 0), (("a", "b"), 0, 5)])
def test_token_spec_needs_distinct_pad_and_unk_inside_the_vocabulary(vocab: tuple[str, ...], pad: int,
                                                                      unk: int) -> None:
    with pytest.raises(ValueError, match="distinct pad and unk ids"):
        TokenSpec(vocab=vocab, max_len=4, pad_id=pad, unk_id=unk)
