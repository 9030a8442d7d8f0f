"""What a DataBundle's inputs and targets are, so that models, the task module, the report and ``predict`` can be
built for any kind of data without asking which dataset it came from.

* :class:`ImageSpec`: uint8 images [C, H, W]; the task module converts, augments and normalizes them on the device.
* :class:`TokenSpec`: token ids [L] padded with ``pad_id`` after each sequence's real length; the vocabulary (index →
  token) and the tokenizer's name are part of the spec, so a run folder can tokenize new text the way training did.
* :class:`WindowSpec`: windows of a time series: ``x`` float32 [window, features] (the past weeks, scaled) and
  ``future`` float32 [horizon, future features] (what is known in advance about each predicted step: holiday flag,
  calendar, seasonal lags), predicting ``horizon`` steps at once.
* :class:`Classes`: class indices into ``names``.
* :class:`Real`: real-valued targets, trained on scaled values (``scaler`` says how) and scored in ``unit``.

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


@dataclass(frozen=True)
class WindowSpec:
    """Windows of ``window`` past steps with ``len(features)`` values each, predicting ``horizon`` steps.

    ``features[j]`` names column ``j`` of ``x``; ``future[k]`` names column ``k`` of the known-future covariates of
    each predicted step (empty: the model reads the past alone). ``step`` is the spacing of the series (``week``).
    """

    kind: ClassVar[str] = "window"
    window: int
    horizon: int
    features: tuple[str, ...]
    future: tuple[str, ...] = ()
    step: str = "week"

    def __post_init__(self) -> None:
        if self.window < 1 or self.horizon < 1 or not self.features:
            raise ValueError(f"a window needs window >= 1, horizon >= 1 and at least one feature, got window "
                             f"{self.window}, horizon {self.horizon}, {len(self.features)} features")

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def n_future(self) -> int:
        return len(self.future)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "window": self.window, "horizon": self.horizon, "step": self.step,
                "features": list(self.features), "future": list(self.future)}

    def to_dict(self) -> dict[str, Any]:
        return self.describe()

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> WindowSpec:
        return cls(window=int(payload["window"]), horizon=int(payload["horizon"]),
                   features=tuple(payload["features"]), future=tuple(payload.get("future", ())),
                   step=str(payload.get("step", "week")))


InputSpec = ImageSpec | TokenSpec | WindowSpec


@dataclass(frozen=True)
class Classes:
    kind: ClassVar[str] = "classes"
    names: tuple[str, ...]


@dataclass(frozen=True)
class Real:
    """Real-valued targets: ``names`` of what is predicted (e.g. ``Weekly_Sales``), trained on values scaled by
    ``scaler`` (``series``: each series standardized with its own training-period mean and std; ``global``: one mean
    and std over every series' training period) and reported in ``unit`` after undoing the scaling."""

    kind: ClassVar[str] = "real"
    names: tuple[str, ...]
    scaler: str = "series"
    unit: str = ""

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "names": list(self.names), "scaler": self.scaler, "unit": self.unit}


TargetSpec = Classes | Real
