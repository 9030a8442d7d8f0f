"""What a DataBundle's inputs and targets are, so that models, the task module, the report and ``predict`` can be
built for any kind of data without asking which dataset it came from.

* :class:`ImageSpec`: uint8 images [C, H, W]; the task module converts, augments and normalizes them on the device.
* :class:`TokenSpec`: token ids [L] padded with ``pad_id`` after each sequence's real length; the vocabulary (index →
  token) and the tokenizer's name are part of the spec, so a run folder can tokenize new text the way training did.
* :class:`Classes`: class indices into ``names``.

``kind`` names the input kind; model registry entries declare which kind they read (``input=`` metadata).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

PAD = "<pad>"
UNK = "<unk>"


@dataclass(frozen=True)
class ImageSpec:
    kind: ClassVar[str] = "image"
    channels: int
    height: int
    width: int

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "shape": [self.channels, self.height, self.width]}


@dataclass(frozen=True, eq=False)
class TokenSpec:
    """Token sequences: ``vocab[i]`` is token ``i``; ``vocab[pad_id]`` pads, ``vocab[unk_id]`` stands for unknown
    tokens (``<pad>`` = 0 and ``<unk>`` = 1 in a vocabulary built from the train split; a pretrained encoder's fixed
    vocabulary has its own, e.g. ``[PAD]`` = 0 and ``[UNK]`` = 100).

    ``max_len`` is the length cap applied to every text (longer ones keep their first ``max_len`` tokens);
    ``tokenizer`` names an entry of :data:`trainlab.data.text.tokenize.TOKENIZERS`.
    """

    kind: ClassVar[str] = "tokens"
    vocab: tuple[str, ...]
    max_len: int
    tokenizer: str = "tweet"
    pad_id: int = 0
    unk_id: int = 1

    def __post_init__(self) -> None:
        size = len(self.vocab)
        if size < 2 or not (0 <= self.pad_id < size and 0 <= self.unk_id < size) or self.pad_id == self.unk_id:
            raise ValueError(f"a vocabulary of {size} tokens needs distinct pad and unk ids inside it, "
                             f"got {self.pad_id} and {self.unk_id}")
        if self.max_len < 1:
            raise ValueError(f"max_len must be positive, got {self.max_len}")

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "vocab_size": self.vocab_size, "max_len": self.max_len,
                "tokenizer": self.tokenizer, "pad_id": self.pad_id, "unk_id": self.unk_id}

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the spec (``describe`` plus the vocabulary itself)."""
        return {**self.describe(), "vocab": list(self.vocab)}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> TokenSpec:
        return cls(vocab=tuple(payload["vocab"]), max_len=int(payload["max_len"]),
                   tokenizer=str(payload["tokenizer"]), pad_id=int(payload["pad_id"]),
                   unk_id=int(payload["unk_id"]))


InputSpec = ImageSpec | TokenSpec


@dataclass(frozen=True)
class Classes:
    kind: ClassVar[str] = "classes"
    names: tuple[str, ...]


TargetSpec = Classes
