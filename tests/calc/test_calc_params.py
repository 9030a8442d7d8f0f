"""Parameter counts in both conventions, checked against the torch modules; the Keras differences explained."""

from __future__ import annotations

import pytest
from torch import nn

from trainlab.calc.params import (
    batchnorm_params,
    compare_params,
    embedding_params,
    gru_params,
    layer_params,
    linear_params,
    lstm_params,
    rnn_params,
)
from trainlab.calc.shapes import conv2d_params
from trainlab.errors import TrainlabError


def numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_course_numbers() -> None:
    assert embedding_params(1000, 16) == 16_000
    assert lstm_params(16, 32, "keras") == 6_272
    assert lstm_params(16, 32, "pytorch") == 6_400 == numel(nn.LSTM(16, 32))
    assert linear_params(32, 256) == 8_448
    assert linear_params(256, 1) == 257


@pytest.mark.parametrize(("i", "h"), [(16, 32), (1, 1), (7, 3), (128, 64)])
def test_recurrent_layers_against_torch(i: int, h: int) -> None:
    # PyTorch: two bias vectors per gate set (b_ih, b_hh). Keras: one, so Keras = PyTorch − gates·h ...
    assert rnn_params(i, h, "pytorch") == numel(nn.RNN(i, h))
    assert rnn_params(i, h, "keras") == numel(nn.RNN(i, h)) - h
    assert lstm_params(i, h, "pytorch") == numel(nn.LSTM(i, h))
    assert lstm_params(i, h, "keras") == numel(nn.LSTM(i, h)) - 4 * h
    # ... except the GRU with reset_after=True (Keras 2/3 default, what nn.GRU computes): two biases there too.
    assert gru_params(i, h, "pytorch") == numel(nn.GRU(i, h))
    assert gru_params(i, h, "keras") == numel(nn.GRU(i, h))
    assert gru_params(i, h, "keras", reset_after=False) == numel(nn.GRU(i, h)) - 3 * h
    for module, count in ((nn.RNN(i, h, bias=False), rnn_params), (nn.LSTM(i, h, bias=False), lstm_params),
                          (nn.GRU(i, h, bias=False), gru_params)):
        assert count(i, h, "pytorch", bias=False) == count(i, h, "keras", bias=False) == numel(module)


@pytest.mark.parametrize(("c", "f", "k"), [(3, 10, 5), (1, 10, 5), (64, 128, 3), (3, 8, (3, 5))])
def test_linear_conv_embedding_against_torch(c: int, f: int, k: int | tuple[int, int]) -> None:
    assert conv2d_params(c, f, k) == numel(nn.Conv2d(c, f, k))
    assert conv2d_params(c, f, k, bias=False) == numel(nn.Conv2d(c, f, k, bias=False))
    assert linear_params(c, f) == numel(nn.Linear(c, f))
    assert linear_params(c, f, bias=False) == numel(nn.Linear(c, f, bias=False))
    assert embedding_params(c, f) == numel(nn.Embedding(c, f))


@pytest.mark.parametrize("channels", [1, 64, 512])
def test_batchnorm_conventions(channels: int) -> None:
    module = nn.BatchNorm2d(channels)
    running = module.running_mean.numel() + module.running_var.numel()  # buffers, not parameters
    torch_count = batchnorm_params(channels, "pytorch")
    assert (torch_count.trainable, torch_count.non_trainable, torch_count.total) == (numel(module), 0, 2 * channels)
    keras_count = batchnorm_params(channels, "keras")
    assert (keras_count.trainable, keras_count.non_trainable) == (numel(module), running)
    assert keras_count.total == 4 * channels
    assert batchnorm_params(channels, "pytorch", affine=False).total == numel(nn.BatchNorm2d(channels, affine=False))


def test_layer_params_and_formulas() -> None:
    lstm = compare_params("lstm", input=16, hidden=32)
    assert (lstm["pytorch"].total, lstm["keras"].total) == (6_400, 6_272)
    assert lstm["keras"].formula == "4·(32·(16 + 32) + 32)"
    assert lstm["pytorch"].formula == "4·(32·(16 + 32) + 2·32)"
    assert layer_params("gru", "keras", input=16, hidden=32, reset_after=False).formula == "3·(32·(16 + 32) + 32)"
    assert layer_params("gru", "pytorch", input=16, hidden=32, reset_after=False).total == 4_800  # PyTorch: always
    assert layer_params("linear", "keras", input=32, units=256).formula == "32·256 + 256"
    assert layer_params("conv2d", "pytorch", channels=3, filters=10, kernel=5).total == 760
    assert layer_params("embedding", "keras", vocab=1000, dim=16).total == 16_000
    assert layer_params("rnn", "keras", input=16, hidden=32, bias=False).formula == "32·(16 + 32)"
    bn = compare_params("batchnorm", channels=64)
    assert (bn["pytorch"].total, bn["keras"].total, bn["keras"].trainable) == (128, 256, 128)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: lstm_params(16, 0), "hidden_size must be a positive integer, got 0"),
        (lambda: linear_params(-1, 3), "in_features must be a positive integer, got -1"),
        (lambda: lstm_params(16, 32, "tf"), "convention must be 'pytorch' or 'keras', got 'tf'"),
        (lambda: gru_params(16, 32, "pytorch", reset_after=False), "reset_after=False exists only for the Keras GRU"),
        (lambda: batchnorm_params(0), "channels must be a positive integer, got 0"),
        (lambda: layer_params("lstm", "keras", input=16), "params lstm needs --hidden"),
        (lambda: layer_params("conv", "keras"), "unknown layer kind 'conv'; expected one of linear, conv2d"),
    ],
)
def test_user_errors(call, message: str) -> None:
    with pytest.raises(TrainlabError, match=message):
        call()
