"""Course calculators: layer output sizes, parameter counts in PyTorch and Keras conventions, Keras summaries, and a
recipe's layer table checked against the built model.

Everything here is pure arithmetic and imports no torch, so ``trainlab --help`` stays fast. The recipe layer table
lives in its own module, imported where needed: ``from trainlab.calc.model_table import model_table`` (it builds models,
so it imports torch; a package-level ``model_table`` name would also shadow that submodule).
"""

from __future__ import annotations

from trainlab.calc.keras import KerasLayer, KerasSummary, keras_summary
from trainlab.calc.params import (
    ParamCount,
    batchnorm_params,
    compare_params,
    embedding_params,
    gru_params,
    layer_params,
    linear_params,
    lstm_params,
    rnn_params,
)
from trainlab.calc.shapes import (
    Volume,
    conv2d_output,
    conv2d_params,
    conv_output_size,
    conv_transpose2d_output,
    conv_transpose2d_params,
    parse_volume,
    pool2d_output,
)

__all__ = [
    "KerasLayer",
    "KerasSummary",
    "ParamCount",
    "Volume",
    "batchnorm_params",
    "compare_params",
    "conv2d_output",
    "conv2d_params",
    "conv_output_size",
    "conv_transpose2d_output",
    "conv_transpose2d_params",
    "embedding_params",
    "gru_params",
    "keras_summary",
    "layer_params",
    "linear_params",
    "lstm_params",
    "parse_volume",
    "pool2d_output",
    "rnn_params",
]

