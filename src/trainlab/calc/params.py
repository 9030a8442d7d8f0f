"""Parameter counts of common layers in both conventions, PyTorch and Keras, with the formulas.

With ``i`` inputs (features, or the previous layer's units), ``h`` hidden units / units, ``C`` channels::

    Linear / Dense:       i·h + h                                   (same in both)
    Embedding(V, D):      V·D                                       (same in both)
    Conv2d / Conv2D:      F·C·kh·kw + F                             (same in both; see shapes.conv2d_params)
    RNN / SimpleRNN:      PyTorch  h·(i + h) + 2h      Keras  h·(i + h) + h
    LSTM (4 gate sets):   PyTorch  4·(h·(i + h) + 2h)  Keras  4·(h·(i + h) + h)
    GRU (3 gate sets):    PyTorch  3·(h·(i + h) + 2h)  Keras  3·(h·(i + h) + 2h)  with reset_after=True (default)
                                                       Keras  3·(h·(i + h) + h)   with reset_after=False
    BatchNorm(C):         PyTorch  2·C parameters (γ, β) + 2·C running statistics kept as buffers, not parameters
                          Keras    4·C parameters: 2·C trainable (γ, β) + 2·C non-trainable (moving mean, variance)

Why the recurrent counts differ: a PyTorch recurrent layer has two bias vectors per gate set, ``b_ih`` (added to the
input projection) and ``b_hh`` (added to the recurrent projection); Keras has one, except the GRU with
``reset_after=True`` (the Keras 2/3 default, and what PyTorch's GRU computes), whose reset gate multiplies the recurrent
projection *after* its bias, so both biases are needed. Hence Keras LSTM = PyTorch LSTM − 4h (LSTM(32) on 16 inputs:
6,272 vs 6,400) and Keras SimpleRNN = PyTorch RNN − h. With ``bias=False`` / ``use_bias=False`` both drop every bias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from trainlab.calc.shapes import as_pair, check_int, conv2d_params
from trainlab.errors import TrainlabError

Convention = Literal["pytorch", "keras"]
CONVENTIONS: tuple[Convention, ...] = ("pytorch", "keras")
GATE_SETS = {"rnn": 1, "lstm": 4, "gru": 3}
KINDS = ("linear", "conv2d", "embedding", "rnn", "lstm", "gru", "batchnorm")


@dataclass(frozen=True)
class ParamCount:
    """Parameters of one layer in one convention, split as Keras' summary does, with the formula filled in."""

    trainable: int
    non_trainable: int = 0
    formula: str = ""

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable


def _convention(convention: str) -> Convention:
    if convention not in CONVENTIONS:
        raise TrainlabError(f"convention must be 'pytorch' or 'keras', got {convention!r}")
    return convention  # type: ignore[return-value]


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """``nn.Linear(i, h)`` / Keras ``Dense(h)`` on ``i`` inputs: ``i·h + h`` (``i·h`` without a bias)."""
    check_int("in_features", in_features, 1)
    check_int("out_features", out_features, 1)
    return in_features * out_features + (out_features if bias else 0)


def embedding_params(input_dim: int, output_dim: int) -> int:
    """``nn.Embedding(V, D)`` / Keras ``Embedding(V, D)``: one D-vector per token, ``V·D``."""
    check_int("input_dim", input_dim, 1)
    check_int("output_dim", output_dim, 1)
    return input_dim * output_dim


def _bias_vectors(kind: str, convention: str, bias: bool, reset_after: bool) -> int:
    """Bias vectors per gate set: 2 in PyTorch and for the Keras GRU with reset_after, else 1 in Keras; 0 without."""
    if not bias:
        return 0
    return 1 if convention == "keras" and not (kind == "gru" and reset_after) else 2


def recurrent_params(kind: str, input_size: int, hidden_size: int, convention: str = "pytorch", bias: bool = True,
                     reset_after: bool = True) -> int:
    """``gates·(h·(i + h) + biases·h)`` where gates is 1 (RNN), 4 (LSTM) or 3 (GRU) and biases is the number of
    bias vectors per gate set: 2 in PyTorch (``b_ih``, ``b_hh``), 1 in Keras, 2 for a Keras GRU with
    ``reset_after=True``, 0 without bias. PyTorch's GRU always resets after the matmul (``reset_after=True``)."""
    if kind not in GATE_SETS:
        raise TrainlabError(f"recurrent kind must be one of {', '.join(GATE_SETS)}, got {kind!r}")
    _convention(convention)
    check_int("input_size", input_size, 1)
    check_int("hidden_size", hidden_size, 1)
    if not reset_after and (kind != "gru" or convention == "pytorch"):
        raise TrainlabError(f"reset_after=False exists only for the Keras GRU, not for {convention} {kind}")
    biases = _bias_vectors(kind, convention, bias, reset_after)
    return GATE_SETS[kind] * (hidden_size * (input_size + hidden_size) + biases * hidden_size)


def rnn_params(input_size: int, hidden_size: int, convention: str = "pytorch", bias: bool = True) -> int:
    """``nn.RNN(i, h)``: ``h·(i + h) + 2h``; Keras ``SimpleRNN(h)``: ``h·(i + h) + h``."""
    return recurrent_params("rnn", input_size, hidden_size, convention, bias)


def lstm_params(input_size: int, hidden_size: int, convention: str = "pytorch", bias: bool = True) -> int:
    """``nn.LSTM(i, h)``: ``4·(h·(i + h) + 2h)``; Keras ``LSTM(h)``: ``4·(h·(i + h) + h)`` (= PyTorch − 4h)."""
    return recurrent_params("lstm", input_size, hidden_size, convention, bias)


def gru_params(input_size: int, hidden_size: int, convention: str = "pytorch", bias: bool = True,
               reset_after: bool = True) -> int:
    """``nn.GRU(i, h)`` and Keras ``GRU(h, reset_after=True)``: ``3·(h·(i + h) + 2h)``;
    Keras ``GRU(h, reset_after=False)`` (the Keras 1 / TF1 default): ``3·(h·(i + h) + h)``."""
    return recurrent_params("gru", input_size, hidden_size, convention, bias, reset_after)


def batchnorm_params(channels: int, convention: str = "pytorch", affine: bool = True) -> ParamCount:
    """BatchNorm over ``C`` channels (features). PyTorch: ``2·C`` trainable (weight γ, bias β), its running mean and
    variance are buffers, not parameters. Keras: ``4·C`` = ``2·C`` trainable + ``2·C`` non-trainable (moving stats).
    ``affine=False`` (Keras ``center=scale=False``) drops γ and β."""
    _convention(convention)
    check_int("channels", channels, 1)
    trainable = 2 * channels if affine else 0
    if convention == "pytorch":
        return ParamCount(trainable, 0, f"2·{channels} (+ 2·{channels} running stats as buffers, not parameters)"
                          if affine else f"0 (+ 2·{channels} running stats as buffers)")
    return ParamCount(trainable, 2 * channels, f"{'2' if affine else '0'}·{channels} trainable + 2·{channels} moving")


def recurrent_formula(kind: str, input_size: int, hidden_size: int, convention: str, bias: bool = True,
                      reset_after: bool = True) -> str:
    """The recurrent formula filled in, e.g. ``4·(32·(16 + 32) + 32)``."""
    gates, i, h = GATE_SETS[kind], input_size, hidden_size
    biases = _bias_vectors(kind, convention, bias, reset_after)
    bias_term = "" if biases == 0 else f" + {h}" if biases == 1 else f" + 2·{h}"
    inner = f"{h}·({i} + {h}){bias_term}"
    return inner if gates == 1 else f"{gates}·({inner})"


def _need(kind: str, sizes: dict[str, Any], *names: str) -> list[Any]:
    missing = [name for name in names if sizes.get(name) is None]
    if missing:
        options = ", ".join("--" + name.replace("_", "-") for name in missing)
        raise TrainlabError(f"params {kind} needs {options}")
    return [sizes[name] for name in names]


def layer_params(kind: str, convention: str, **sizes: Any) -> ParamCount:
    """The parameters of one layer ``kind`` (one of :data:`KINDS`) in ``convention``, with the formula.

    Sizes by kind: linear ``input, units``; conv2d ``channels, filters, kernel``; embedding ``vocab, dim``;
    rnn/lstm/gru ``input, hidden`` (gru also ``reset_after``, Keras only); batchnorm ``channels``.
    ``bias`` (default True) applies to linear, conv2d and the recurrent kinds.
    """
    convention = _convention(convention)
    bias = bool(sizes.get("bias", True))
    if kind == "linear":
        i, h = _need(kind, sizes, "input", "units")
        return ParamCount(linear_params(i, h, bias), 0, f"{i}·{h}" + (f" + {h}" if bias else ""))
    if kind == "conv2d":
        c, f, k = _need(kind, sizes, "channels", "filters", "kernel")
        kh, kw = as_pair("kernel", k, 1)
        return ParamCount(conv2d_params(c, f, (kh, kw), bias), 0, f"{f}·({kh}·{kw}·{c})" + (f" + {f}" if bias else ""))
    if kind == "embedding":
        v, d = _need(kind, sizes, "vocab", "dim")
        return ParamCount(embedding_params(v, d), 0, f"{v}·{d}")
    if kind in GATE_SETS:
        i, h = _need(kind, sizes, "input", "hidden")
        reset_after = bool(sizes.get("reset_after", True)) if convention == "keras" else True
        count = recurrent_params(kind, i, h, convention, bias, reset_after)
        return ParamCount(count, 0, recurrent_formula(kind, i, h, convention, bias, reset_after))
    if kind == "batchnorm":
        (c,) = _need(kind, sizes, "channels")
        return batchnorm_params(c, convention)
    raise TrainlabError(f"unknown layer kind {kind!r}; expected one of {', '.join(KINDS)}")


def compare_params(kind: str, **sizes: Any) -> dict[Convention, ParamCount]:
    """``layer_params`` in both conventions: ``{"pytorch": ..., "keras": ...}``."""
    return {convention: layer_params(kind, convention, **sizes) for convention in CONVENTIONS}
