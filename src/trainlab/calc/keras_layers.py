"""The Keras layers that :mod:`trainlab.calc.keras` knows: argument binding, output shapes and parameter counts.

Each entry of :data:`SPECS` is ``(Keras positional order, defaults, handler)``; a handler takes the bound arguments and
the input shape without the batch dimension and returns the output shape and the Keras :class:`ParamCount`::

    Embedding(V, D)          (T,) → (T, D)                V·D
    SimpleRNN/LSTM/GRU(h)    (T, i) → (h,) or (T, h)      gates·(h·(i + h) + h), GRU reset_after=True: + 2h
    Dense(h)                 (..., i) → (..., h)          i·h + h
    Conv2D(F, k)             (H, W, C) → (H', W', F)      F·kh·kw·C + F;  'valid' ⌊(n − d·(k − 1) − 1) / s⌋ + 1,
                                                          'same' ⌈n / s⌉
    MaxPooling2D(k)          (H, W, C) → (H', W', C)      0;  strides default to pool_size
    BatchNormalization()     (..., C) → same              2·C trainable + 2·C non-trainable
    Flatten, Dropout, GlobalAverage/MaxPooling1D/2D       0
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from trainlab.calc.params import (
    ParamCount,
    batchnorm_params,
    embedding_params,
    linear_params,
    recurrent_formula,
    recurrent_params,
)
from trainlab.calc.shapes import as_pair, check_int, conv2d_params, conv_output_size, conv_params_formula
from trainlab.errors import TrainlabError

Shape = tuple[int | None, ...]
REQUIRED = object()
IGNORED = frozenset({
    "activation", "recurrent_activation", "name", "dtype", "kernel_initializer", "recurrent_initializer",
    "bias_initializer", "embeddings_initializer", "gamma_initializer", "beta_initializer", "moving_mean_initializer",
    "moving_variance_initializer", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
    "activity_regularizer", "embeddings_regularizer", "beta_regularizer", "gamma_regularizer", "kernel_constraint",
    "recurrent_constraint", "bias_constraint", "embeddings_constraint", "beta_constraint", "gamma_constraint",
    "dropout", "recurrent_dropout", "mask_zero", "noise_shape", "seed", "momentum", "epsilon", "unroll",
    "go_backwards", "sparse",
})


def format_shape(shape: Shape) -> str:
    """``(None, 200, 16)`` as Keras prints it."""
    return "(" + ", ".join(str(dim) for dim in shape) + ")"


Handler = Callable[[dict[str, Any], Shape], tuple[Shape, ParamCount]]


def _units(args: dict[str, Any], key: str) -> int:
    return check_int(key, args[key], 1)


def _bool(args: dict[str, Any], key: str) -> bool:
    if not isinstance(args[key], bool):
        raise TrainlabError(f"{key} must be True or False, got {args[key]!r}")
    return args[key]


def _known(shape: Shape, rank: int | None, what: str, axes: str = "", hint: str = "") -> int:
    """Check the input rank (without batch) and return its last dimension, which must be known."""
    if rank is not None and len(shape) != rank:
        raise TrainlabError(f"{what} needs a {rank + 1}-D input (batch, {axes}), got {format_shape((None, *shape))}"
                            + hint)
    last = shape[-1]
    if last is None:
        raise TrainlabError(f"{what} needs a known last dimension, got {format_shape((None, *shape))}")
    return last


def _spatial(size: int | None, kernel: int, stride: int, padding: str, dilation: int, axis: str) -> int | None:
    if size is None:
        return None
    if padding == "same":
        return math.ceil(size / stride)
    return conv_output_size(size, kernel, stride, 0, dilation, axis)


def _padding(args: dict[str, Any]) -> str:
    padding = str(args["padding"]).lower()
    if padding not in ("valid", "same"):
        raise TrainlabError(f"padding must be 'valid' or 'same', got {args['padding']!r}")
    return padding


def _channels_last(args: dict[str, Any]) -> None:
    if args.get("data_format") not in (None, "channels_last"):
        raise TrainlabError(f"only data_format='channels_last' is supported, got {args['data_format']!r}")


def input_layer(args: dict[str, Any], shape: Shape) -> tuple[Shape, ParamCount]:
    """``Input(shape=(...))`` or ``input_shape=(...)``: positive sizes, None for an unknown one (a plain int is
    taken as a 1-tuple)."""
    raw = args["shape"]
    dims = raw if isinstance(raw, tuple) else (raw,)
    if not dims or raw is None:
        raise TrainlabError("shape must be a non-empty tuple, e.g. shape=(200,)")
    return tuple(None if dim is None else check_int("shape", dim, 1) for dim in dims), ParamCount(0)


def _embedding(args: dict[str, Any], shape: Shape) -> tuple[Shape, ParamCount]:
    vocab, dim = _units(args, "input_dim"), _units(args, "output_dim")
    return (*shape, dim), ParamCount(embedding_params(vocab, dim), 0, f"{vocab}·{dim}")


def _recurrent(kind: str, name: str) -> Handler:
    def handler(args: dict[str, Any], shape: Shape) -> tuple[Shape, ParamCount]:
        inputs = _known(shape, 2, name, "timesteps, features",
                        "; return_sequences=True on a previous recurrent layer gives one")
        units, bias = _units(args, "units"), _bool(args, "use_bias")
        reset_after = _bool(args, "reset_after") if "reset_after" in args else True
        count = recurrent_params(kind, inputs, units, "keras", bias, reset_after)
        out = (shape[0], units) if _bool(args, "return_sequences") else (units,)
        return out, ParamCount(count, 0, recurrent_formula(kind, inputs, units, "keras", bias, reset_after))

    return handler


def _dense(args: dict[str, Any], shape: Shape) -> tuple[Shape, ParamCount]:
    inputs = _known(shape, None, "Dense")
    units, bias = _units(args, "units"), _bool(args, "use_bias")
    formula = f"{inputs}·{units}" + (f" + {units}" if bias else "")
    return (*shape[:-1], units), ParamCount(linear_params(inputs, units, bias), 0, formula)


def _dropout(args: dict[str, Any], shape: Shape) -> tuple[Shape, ParamCount]:
    rate = args["rate"]
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
        raise TrainlabError(f"rate must be a number in [0, 1), got {rate!r}")
    return shape, ParamCount(0)


def _flatten(args: dict[str, Any], shape: Shape) -> tuple[Shape, ParamCount]:
    dims = [dim for dim in shape if dim is not None]
    if len(dims) != len(shape):
        raise TrainlabError(f"Flatten needs every dimension known, got {format_shape((None, *shape))}")
    return (check_int("Flatten output size", math.prod(dims), 1),), ParamCount(0)


def _conv2d(args: dict[str, Any], shape: Shape) -> tuple[Shape, ParamCount]:
    channels = _known(shape, 3, "Conv2D", "height, width, channels")
    _channels_last(args)
    filters, bias, padding = _units(args, "filters"), _bool(args, "use_bias"), _padding(args)
    k, s, d = (as_pair(key, args[key], 1) for key in ("kernel_size", "strides", "dilation_rate"))
    height, width = (_spatial(shape[i], k[i], s[i], padding, d[i], ("height", "width")[i]) for i in range(2))
    groups = check_int("groups", args["groups"], 1)
    count = ParamCount(conv2d_params(channels, filters, k, bias, groups), 0,
                       conv_params_formula(channels, filters, k, bias, groups))
    return (height, width, filters), count


def _pool2d(args: dict[str, Any], shape: Shape) -> tuple[Shape, ParamCount]:
    _known(shape, 3, "a 2-D pooling layer", "height, width, channels")
    _channels_last(args)
    k = as_pair("pool_size", args["pool_size"], 1)
    s = k if args["strides"] is None else as_pair("strides", args["strides"], 1)
    height, width = (_spatial(shape[i], k[i], s[i], _padding(args), 1, ("height", "width")[i]) for i in range(2))
    return (height, width, shape[2]), ParamCount(0)


def _batchnorm(args: dict[str, Any], shape: Shape) -> tuple[Shape, ParamCount]:
    channels = _known(shape, None, "BatchNormalization")
    if args["axis"] not in (-1, len(shape)):
        raise TrainlabError(f"only axis=-1 (the channels) is supported, got {args['axis']!r}")
    learned = int(_bool(args, "center")) + int(_bool(args, "scale"))
    moving = batchnorm_params(channels, "keras").non_trainable
    return shape, ParamCount(learned * channels, moving, f"{learned}·{channels} trainable + 2·{channels} moving")


def _global_pool(rank: int) -> Handler:
    def handler(args: dict[str, Any], shape: Shape) -> tuple[Shape, ParamCount]:
        _known(shape, rank, f"GlobalPooling{rank - 1}D", "steps, channels" if rank == 2 else "height, width, channels")
        _channels_last(args)
        return ((1,) * (rank - 1) if _bool(args, "keepdims") else ()) + (shape[-1],), ParamCount(0)

    return handler


_GATED = ("units", "activation", "recurrent_activation", "use_bias")
_POOL = (("pool_size", "strides", "padding", "data_format"), {"pool_size": 2, "strides": None, "padding": "valid"})
_GLOBAL = (("data_format", "keepdims"), {"keepdims": False})
# name → (Keras positional order, defaults: REQUIRED marks a required argument, handler)
SPECS: dict[str, tuple[tuple[str, ...], dict[str, Any], Handler]] = {
    "Input": (("shape", "batch_size"), {"shape": REQUIRED, "batch_size": None}, input_layer),
    "Embedding": (("input_dim", "output_dim", "embeddings_initializer", "embeddings_regularizer",
                   "activity_regularizer", "embeddings_constraint", "mask_zero", "input_length"),
                  {"input_dim": REQUIRED, "output_dim": REQUIRED, "input_length": None}, _embedding),
    "SimpleRNN": (("units", "activation", "use_bias"), {"units": REQUIRED, "use_bias": True, "return_sequences": False},
                  _recurrent("rnn", "SimpleRNN")),
    "LSTM": (_GATED, {"units": REQUIRED, "use_bias": True, "return_sequences": False}, _recurrent("lstm", "LSTM")),
    "GRU": (_GATED, {"units": REQUIRED, "use_bias": True, "return_sequences": False, "reset_after": True},
            _recurrent("gru", "GRU")),
    "Dense": (("units", "activation", "use_bias"), {"units": REQUIRED, "use_bias": True}, _dense),
    "Dropout": (("rate", "noise_shape", "seed"), {"rate": REQUIRED}, _dropout),
    "Flatten": (("data_format",), {}, _flatten),
    "Conv2D": (("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups",
                "activation", "use_bias"),
               {"filters": REQUIRED, "kernel_size": REQUIRED, "strides": 1, "padding": "valid", "dilation_rate": 1,
                "groups": 1, "use_bias": True}, _conv2d),
    "MaxPooling2D": (*_POOL, _pool2d),
    "AveragePooling2D": (*_POOL, _pool2d),
    "BatchNormalization": (("axis", "momentum", "epsilon", "center", "scale"),
                           {"axis": -1, "center": True, "scale": True}, _batchnorm),
    "GlobalAveragePooling1D": (*_GLOBAL, _global_pool(2)),
    "GlobalAveragePooling2D": (*_GLOBAL, _global_pool(3)),
    "GlobalMaxPooling1D": (*_GLOBAL, _global_pool(2)),
    "GlobalMaxPooling2D": (*_GLOBAL, _global_pool(3)),
}
COMMON = ("input_shape", "input_dim", "trainable")  # accepted by every layer, as in Keras 2


def bind(name: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Bind a layer's arguments as Keras does (positional order, then keywords), with defaults filled in."""
    positional, defaults, _ = SPECS[name]
    if len(args) > len(positional):
        raise TrainlabError(f"{name} takes at most {len(positional)} positional arguments, got {len(args)}")
    bound = dict(zip(positional, args, strict=False))
    accepted = set(positional) | set(defaults) | IGNORED | set(COMMON)
    for key, value in kwargs.items():
        if key not in accepted:
            own = ", ".join(dict.fromkeys(arg for arg in (*positional, *defaults) if arg not in IGNORED)) or "(none)"
            raise TrainlabError(f"{name} has no argument {key!r}; its arguments: {own} (and input_shape, trainable)")
        if key in bound:
            raise TrainlabError(f"{name} got {key!r} twice (positionally and as a keyword)")
        bound[key] = value
    for key, default in defaults.items():
        bound.setdefault(key, default)
        if bound[key] is REQUIRED:
            raise TrainlabError(f"{name} needs the argument {key!r}")
    return bound


def first_shape(name: str, bound: dict[str, Any]) -> Shape | None:
    """The input shape the first layer declares itself, or None."""
    if bound.get("input_shape") is not None:
        return input_layer({"shape": bound["input_shape"]}, ())[0]
    if bound.get("input_dim") is not None and name != "Embedding":
        return (check_int("input_dim", bound["input_dim"], 1),)
    if name == "Embedding":
        length = bound.get("input_length")
        return (None if length is None else check_int("input_length", length, 1),)
    return None


def check_trainable(bound: dict[str, Any]) -> bool:
    """The layer's ``trainable`` flag (True unless given); a frozen layer's parameters count as non-trainable."""
    return _bool({"trainable": True, **bound}, "trainable")
