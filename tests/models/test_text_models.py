"""The text models: padding invariance, exact parameter counts, width, GloVe loading and its errors, the meta device,
the registry and a few training steps of every registered token model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from trainlab.errors import TrainlabError
from trainlab.models import build_model, check_model_options, model_names
from trainlab.models.glove import load_glove
from trainlab.models.text import RECURRENT, bow_params, mean_embedding_params, recurrent_params

GLOVE_SMALL = Path("glove_small") / "glove.6B.50d.first2446.txt"
TINY = {"num_classes": 3, "vocab_size": 20}
# The models of trainlab.models.text (other token models, e.g. the pretrained encoder, read their own vocabulary and
# have their own tests).
TEXT_MODELS = (*RECURRENT, "bow", "mean_embedding", "glove")
SMALL_RNN = {"width": 0.125, "options": {"num_layers": 2}}  # embedding 16, hidden 32


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def logits(model: nn.Module, rows: list[list[int]], pad_id: int = 0) -> torch.Tensor:
    """``model`` on ``rows`` padded to the longest with ``pad_id`` (eval mode, no grad)."""
    width = max(len(row) for row in rows)
    tokens = torch.tensor([row + [pad_id] * (width - len(row)) for row in rows])
    lengths = torch.tensor([len(row) for row in rows])
    model.eval()
    with torch.no_grad():
        return model(tokens, lengths)


def write_glove(path: Path, words: list[str], dim: int, seed: int = 0) -> Path:
    generator = torch.Generator().manual_seed(seed)
    vectors = torch.randn(len(words), dim, generator=generator)
    path.write_text("".join(f"{w} " + " ".join(f"{v:.6f}" for v in vec.tolist()) + "\n"
                            for w, vec in zip(words, vectors, strict=True)), encoding="utf-8")
    return path


# --- padding ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [(name, SMALL_RNN | {"dropout": 0.3}) for name in RECURRENT]
    + [("mean_embedding", {"width": 0.125, "dropout": 0.3}), ("bow", {}), ("bow", {"options": {"binary": True}})],
)
def test_padding_does_not_change_the_logits(name: str, kwargs: dict) -> None:
    torch.manual_seed(0)
    model = build_model(name, **TINY, **kwargs)
    long, short = [4, 9, 2, 17, 5, 5, 11], [7, 3, 7]
    batch = logits(model, [long, short, [6]])
    assert torch.allclose(batch[1], logits(model, [short])[0], atol=1e-6, rtol=0)
    assert torch.allclose(batch[0], logits(model, [long])[0], atol=1e-6, rtol=0)
    assert torch.allclose(batch[2], logits(model, [[6]])[0], atol=1e-6, rtol=0)
    # Reading the pads as tokens (pad id 0 is a real row here) would change the answer: the test can fail.
    as_tokens = logits(model, [short + [0] * 4])[0]
    assert not torch.allclose(batch[1], as_tokens, atol=1e-4) or name.startswith("bow")


def test_padding_with_a_nonzero_pad_id() -> None:
    torch.manual_seed(0)
    model = build_model("bilstm", num_classes=2, vocab_size=20, pad_id=3, **SMALL_RNN)
    batch = logits(model, [[4, 9, 2, 17, 5], [7, 1]], pad_id=3)
    assert torch.allclose(batch[1], logits(model, [[7, 1]], pad_id=3)[0], atol=1e-6, rtol=0)
    assert torch.count_nonzero(model.embedding.weight[3]) == 0


def test_bow_is_a_linear_layer_on_counts_or_presence() -> None:
    torch.manual_seed(0)
    counts_model = build_model("bow", num_classes=3, vocab_size=10, pad_id=0)
    binary_model = build_model("bow", num_classes=3, vocab_size=10, options={"binary": True})
    binary_model.load_state_dict(counts_model.state_dict())
    weight, bias = counts_model.bag.weight.detach(), counts_model.bias.detach()
    row = [5, 2, 5, 5, 9]
    counts = torch.zeros(10)
    for token in row:
        counts[token] += 1
    assert torch.allclose(logits(counts_model, [row, [1]])[0], counts @ weight + bias, atol=1e-6)
    assert torch.allclose(logits(binary_model, [row, [1]])[0], (counts > 0).float() @ weight + bias, atol=1e-6)
    assert torch.allclose(logits(counts_model, [row])[0], 3 * weight[5] + weight[2] + weight[9] + bias, atol=1e-6)


# --- parameter counts and width ---------------------------------------------------------------------------------------


def test_base_lstm_parameter_count() -> None:
    V, E, H, C = 10_000, 128, 256, 3
    by_hand = V * E + 4 * (H * E + H * H + 2 * H) + 2 * 4 * (H * H + H * H + 2 * H) + H * C + C
    assert by_hand == 2_728_707
    assert recurrent_params("lstm", V, E, H, 3, False, C) == by_hand
    assert n_params(build_model("lstm", num_classes=C, vocab_size=V)) == by_hand


@pytest.mark.parametrize(
    ("name", "cell", "expected"),
    [
        # 10,000·128 + 2·4·(256·128 + 256·256 + 512) + 2·2·4·(256·512 + 256·256 + 512) + 512·3 + 3
        ("bilstm", "lstm", 1_280_000 + 790_528 + 3_153_920 + 1_539),
        # 10,000·128 + 3·(256·128 + 256·256 + 512) + 2·3·(2·256·256 + 512) + 256·3 + 3
        ("gru", "gru", 1_280_000 + 296_448 + 789_504 + 771),
        # 10,000·128 + (256·128 + 256·256 + 512) + 2·(2·256·256 + 512) + 256·3 + 3
        ("rnn", "rnn", 1_280_000 + 98_816 + 263_168 + 771),
    ],
)
def test_recurrent_parameter_counts(name: str, cell: str, expected: int) -> None:
    model = build_model(name, num_classes=3, vocab_size=10_000)
    assert n_params(model) == expected
    assert recurrent_params(cell, 10_000, 128, 256, 3, name == "bilstm", 3) == expected
    assert model.rnn.bidirectional == (name == "bilstm")


def test_bow_and_mean_embedding_parameter_counts() -> None:
    assert n_params(build_model("bow", num_classes=3, vocab_size=10_000)) == bow_params(10_000, 3) == 30_003
    assert (n_params(build_model("mean_embedding", num_classes=3, vocab_size=10_000))
            == mean_embedding_params(10_000, 128, 3) == 1_280_387)


def test_width_scales_embedding_and_hidden_sizes() -> None:
    half = build_model("lstm", num_classes=3, vocab_size=100, width=0.5)
    assert (half.embedding.embedding_dim, half.rnn.hidden_size) == (64, 128)
    assert n_params(half) == recurrent_params("lstm", 100, 64, 128, 3, False, 3)
    tiny = build_model("gru", num_classes=3, vocab_size=100, width=0.001, options={"embed_dim": 64, "hidden": 32})
    assert (tiny.embedding.embedding_dim, tiny.rnn.hidden_size) == (1, 1)
    double = build_model("mean_embedding", num_classes=3, vocab_size=100, width=2.0)
    assert double.embedding.embedding_dim == 256
    assert n_params(build_model("bow", num_classes=3, vocab_size=100, width=0.5)) == bow_params(100, 3)


def test_dropout_argument() -> None:
    model = build_model("lstm", **TINY, dropout=0.3, **SMALL_RNN)
    assert model.rnn.dropout == 0.3
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.3]
    one_layer = build_model("lstm", **TINY, dropout=0.3, options={"num_layers": 1})
    assert one_layer.rnn.dropout == 0.0  # no inter-layer dropout with one layer (torch warns otherwise)
    plain = build_model("lstm", **TINY, **SMALL_RNN)
    assert not any(isinstance(m, nn.Dropout) for m in plain.modules())


# --- GloVe ------------------------------------------------------------------------------------------------------------


def file_vector(path: Path, word: str) -> torch.Tensor:
    for line in path.read_bytes().splitlines():  # bytes: the official file holds a few Windows-1252 words
        parts = line.split(b" ")
        if parts[0] == word.encode():
            return torch.tensor([float(v) for v in parts[1:]])
    raise AssertionError(f"{word!r} not in {path}")


def test_load_glove_from_the_shared_file(shared_data: Path) -> None:
    path = shared_data / GLOVE_SMALL
    vocab = ["<pad>", "<unk>", "the", ",", "zzzqqq"]
    torch.manual_seed(0)
    weights, coverage = load_glove(path, vocab, pad_id=0)
    assert coverage == {"embeddings": "glove.6B.50d.first2446.txt", "embedding_dim": 50, "coverage": 2 / 3,
                        "found": 2, "vocab": 3}
    assert weights.shape == (5, 50)
    assert torch.equal(weights[2], file_vector(path, "the"))
    assert weights[2, 0].item() == pytest.approx(0.418)
    assert torch.equal(weights[3], file_vector(path, ","))
    assert torch.count_nonzero(weights[0]) == 0
    assert 0.02 < weights[4].std().item() < 0.3  # the missing word: N(0, 0.1²)
    torch.manual_seed(0)
    assert torch.equal(load_glove(path, vocab, pad_id=0)[0], weights)  # seeding reproduces the random rows
    # The official file holds a few Windows-1252 words (line 785 is byte 0x92 + "s"): read as the curly "’s".
    weights, coverage = load_glove(path, ["<pad>", "<unk>", "’s", "–"], pad_id=0)
    assert coverage["found"] == 2
    assert weights[2, 0].item() == pytest.approx(0.084057)


def test_glove_matching_is_case_insensitive_and_prefers_the_exact_spelling(tmp_path: Path) -> None:
    path = tmp_path / "cased.txt"
    path.write_text("The 1 1\nthe 2 2\nTHE 3 3\ncat 4 4\n", encoding="utf-8")
    weights, coverage = load_glove(path, ["<pad>", "<unk>", "the", "The", "tHe", "Cat"], pad_id=0)
    assert weights[2:].tolist() == [[2, 2], [1, 1], [1, 1], [4, 4]]
    assert coverage["found"] == coverage["vocab"] == 4


def test_glove_model_is_frozen_and_reports_coverage(shared_data: Path) -> None:
    vocab = ["<pad>", "<unk>", "the", ",", "zzzqqq"]
    model = build_model("glove", num_classes=3, vocab_size=5, vocab=vocab,
                        options={"embeddings": str(shared_data / GLOVE_SMALL)})
    assert model.embedding.weight.requires_grad is False
    assert model.embedding.embedding_dim == 50
    assert model.notes["coverage"] == pytest.approx(2 / 3)
    assert torch.equal(model.embedding.weight[2], file_vector(shared_data / GLOVE_SMALL, "the"))
    trainable = build_model("lstm", num_classes=3, vocab_size=5, vocab=vocab, width=0.125,
                            options={"embeddings": str(shared_data / GLOVE_SMALL)})
    assert trainable.embedding.weight.requires_grad is True
    assert trainable.embedding.embedding_dim == 50  # the file's, whatever the width
    assert trainable.rnn.hidden_size == 32
    assert trainable.notes["found"] == 2
    assert build_model("lstm", num_classes=3, vocab_size=5).notes == {}
    assert build_model("bow", num_classes=3, vocab_size=5).notes == {}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("the 1 2 3\ncat 1 2 3\ndog 1 2\n", "line 3: 2 values after the word, but line 1 has 3"),
        ("the 1 2 3\ncat 1 2 3 4\n", "line 2: 4 values after the word, but line 1 has 3"),
        ("the 1 2 3\ncat\n", "line 2: 0 values after the word"),
        ("the\n", "line 1: a word without values"),
        ("the 1 2\ncat 1 x\n", "line 2: value 'x' is not a number"),
        ("the 1 nan\n", "line 1: value nan is not finite"),
        ("400000 50\nthe 1 2\n", "word2vec header"),
    ],
)
def test_bad_glove_files_name_file_and_line(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TrainlabError, match=r"bad\.txt") as info:
        load_glove(path, ["<pad>", "<unk>", "the", "cat"], pad_id=0)
    assert needle in str(info.value)


def test_missing_glove_file_and_missing_option(tmp_path: Path) -> None:
    vocab = ["<pad>", "<unk>", "the"]
    with pytest.raises(TrainlabError, match=r"'.*nowhere.txt' does not exist"):
        build_model("mean_embedding", num_classes=2, vocab_size=3, vocab=vocab,
                    options={"embeddings": str(tmp_path / "nowhere.txt")})
    with pytest.raises(TrainlabError, match=r"set model\.options\.embeddings=path/to/glove\.txt"):
        build_model("glove", num_classes=2, vocab_size=3, vocab=vocab)
    path = write_glove(tmp_path / "g.txt", ["the"], 4)
    with pytest.raises(TrainlabError, match="needs the vocabulary"):
        build_model("glove", num_classes=2, vocab_size=3, options={"embeddings": str(path)})
    with pytest.raises(TrainlabError, match=r"'embed_dim' is 8 but .* has 4 values per word"):
        build_model("lstm", num_classes=2, vocab_size=3, vocab=vocab, options={"embeddings": str(path), "embed_dim": 8})
    model = build_model("lstm", num_classes=2, vocab_size=3, vocab=vocab, options={"embeddings": str(path),
                                                                                   "embed_dim": 4})
    assert model.embedding.embedding_dim == 4


def test_building_on_the_meta_device(tmp_path: Path) -> None:
    vocab = ["<pad>", "<unk>", "the", "cat", "zzz"]
    path = write_glove(tmp_path / "g.txt", ["the", "cat", "dog"], 8)
    with torch.device("meta"):
        glove = build_model("glove", num_classes=3, vocab_size=5, vocab=vocab, options={"embeddings": str(path)})
        base = build_model("lstm", num_classes=3, vocab_size=10_000)
        tokens, lengths = torch.zeros(2, 7, dtype=torch.long), torch.tensor([7, 3])
        shapes = []
        for name in TEXT_MODELS:  # a forward pass there gives the shapes (the lengths cannot be read)
            extra = {"vocab": vocab, "options": {"embeddings": str(path)}} if name == "glove" else {}
            shapes.append(build_model(name, num_classes=3, vocab_size=5, **extra)(tokens, lengths).shape)
    assert glove.embedding.weight.is_meta
    assert glove.notes == {"embeddings": "g.txt", "embedding_dim": 8, "coverage": 2 / 3, "found": 2, "vocab": 3}
    assert n_params(base) == 2_728_707
    assert shapes == [(2, 3)] * len(TEXT_MODELS)


# --- registry ---------------------------------------------------------------------------------------------------------


def test_token_models_in_the_registry() -> None:
    assert {"lstm", "bilstm", "gru", "rnn", "bow", "mean_embedding", "glove"} == set(TEXT_MODELS)
    assert set(TEXT_MODELS) <= set(model_names("tokens"))
    model = build_model("lstm", num_classes=3, vocab_size=100)
    assert model(torch.tensor([[5, 6, 7]]), torch.tensor([3])).shape == (1, 3)
    with pytest.raises(TrainlabError, match="model 'lstm' has no option 'hiden'; its options: embed_dim, hidden"):
        build_model("lstm", num_classes=3, vocab_size=100, options={"hiden": 8})
    with pytest.raises(TrainlabError, match="model 'bow' has no option 'embed_dim'; its options: binary"):
        check_model_options("bow", {"embed_dim": 8})
    with pytest.raises(TrainlabError, match="reads token sequences"):
        build_model("gru", num_classes=3, in_channels=3, image_size=32)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("lstm", {"hidden": "256"}, "model 'lstm' option 'hidden' must be an integer, got '256'"),
        ("gru", {"num_layers": 0}, "model 'gru' option 'num_layers' must be a positive integer, got 0"),
        ("rnn", {"embed_dim": 1 << 20}, "model 'rnn' option 'embed_dim' must be at most 65,536"),
        ("bilstm", {"bidirectional": "yes"}, "model 'bilstm' option 'bidirectional' must be true or false"),
        ("bow", {"binary": 1}, "model 'bow' option 'binary' must be true or false, got 1"),
        ("mean_embedding", {"freeze_embeddings": None},
         "model 'mean_embedding' option 'freeze_embeddings' must be true or false, got None"),
        ("mean_embedding", {"embeddings": 5},
         "model 'mean_embedding' option 'embeddings' must be the path of a GloVe text file, got 5"),
    ],
)
def test_bad_option_values(name: str, options: dict, message: str) -> None:
    with pytest.raises(TrainlabError, match="^" + message.replace("(", r"\(")):
        build_model(name, num_classes=3, vocab_size=20, vocab=[f"w{i}" for i in range(20)], options=options)


# --- training ---------------------------------------------------------------------------------------------------------


def toy_task(vocab_size: int = 12, count: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random texts of 2-8 tokens from ids 2.. (0 pads); the class is whether token 5 appears (about half do)."""
    generator = torch.Generator().manual_seed(1)
    lengths = torch.randint(2, 9, (count,), generator=generator)
    tokens = torch.randint(2, vocab_size, (count, 8), generator=generator)
    tokens[torch.arange(count // 2), 0] = 5  # make sure half of them hold it
    tokens[torch.arange(8).unsqueeze(0) >= lengths.unsqueeze(1)] = 0
    labels = (tokens == 5).any(dim=1).long()
    return tokens, lengths, labels


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_every_text_model_learns_a_toy_task(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    vocab = ["<pad>", "<unk>", *(f"w{i}" for i in range(2, 12))]
    options = {"embeddings": str(write_glove(tmp_path / "g.txt", vocab[2:], 16))} if name == "glove" else {}
    width = 0.125 if name in RECURRENT else 1.0
    model = build_model(name, num_classes=2, vocab_size=12, vocab=vocab, width=width, options=options)
    tokens, lengths, labels = toy_task()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    losses = []
    model.train()
    for _ in range(20):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(tokens, lengths), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.5 * losses[0], losses
