"""Text data: tokenizers (:data:`TOKENIZERS`), vocabularies and the CSV datasets ``text_csv`` and ``airline``
(registered in DATASETS when this package is imported)."""

from __future__ import annotations

from trainlab.data.text import csv_source, minilm  # noqa: F401  (registers the datasets and the minilm tokenizer)
from trainlab.data.text.tokenize import TOKENIZERS, Tokenizer
from trainlab.data.text.vocab import build_vocabulary, encode, encode_texts

__all__ = ["TOKENIZERS", "Tokenizer", "build_vocabulary", "encode", "encode_texts"]
