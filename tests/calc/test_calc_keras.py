"""The Keras Sequential calculator: the course example, every layer against a torch module, and user errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlab.calc.keras import format_shape, keras_summary, parse_layer, split_layers
from trainlab.errors import TrainlabError

COURSE = "Embedding(1000,16,input_length=200); LSTM(32); Dense(256); Dense(1)"


def numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def last(description: str) -> tuple[tuple[int | None, ...], int]:
    layer = keras_summary(description).layers[-1]
    return layer.output_shape, layer.params.total


def test_course_example() -> None:
    summary = keras_summary(COURSE)
    rows = [(layer.name, format_shape(layer.output_shape), layer.params.total) for layer in summary.layers]
    assert rows == [
        ("Embedding", "(None, 200, 16)", 16_000),
        ("LSTM", "(None, 32)", 6_272),
        ("Dense", "(None, 256)", 8_448),
        ("Dense", "(None, 1)", 257),
    ]
    assert (summary.total, summary.trainable, summary.non_trainable) == (30_977, 30_977, 0)


def test_embedding_and_recurrent_layers_against_torch() -> None:
    tokens = torch.zeros(1, 200, dtype=torch.long)
    embedding = nn.Embedding(1000, 16)
    assert last("Embedding(1000, 16, input_length=200)") == ((None, *embedding(tokens).shape[1:]), numel(embedding))
    assert last("Embedding(1000, 16)")[0] == (None, None, 16)  # sequence length unknown
    x = torch.zeros(1, 200, 16)
    # Keras has one bias vector per gate set, PyTorch two (b_ih, b_hh): LSTM −4h, SimpleRNN −h; GRU reset_after=True
    # keeps both.
    for layer, module, less in (("LSTM", nn.LSTM(16, 32, batch_first=True), 4 * 32),
                                ("SimpleRNN", nn.RNN(16, 32, batch_first=True), 32),
                                ("GRU", nn.GRU(16, 32, batch_first=True), 0)):
        sequence, _ = module(x)
        head = f"Input(shape=(200, 16)); {layer}(32"
        assert last(head + ")") == ((None, *sequence[:, -1].shape[1:]), numel(module) - less)
        assert last(head + ", return_sequences=True)")[0] == (None, *sequence.shape[1:])
    assert last("Input(shape=(200, 16)); GRU(32, reset_after=False)")[1] == numel(nn.GRU(16, 32)) - 3 * 32
    assert last("Input(shape=(200, 16)); LSTM(32, use_bias=False)")[1] == numel(nn.LSTM(16, 32, bias=False))


def test_dense_flatten_dropout_global_pooling_against_torch() -> None:
    linear = nn.Linear(16, 256)
    assert last("Input(shape=(200, 16)); Dense(256)") == ((None, *linear(torch.zeros(1, 200, 16)).shape[1:]),
                                                          numel(linear))
    assert last("Dense(10, input_dim=784)")[1] == numel(nn.Linear(784, 10))
    assert last("Dense(10, input_shape=(784,), use_bias=False)")[1] == numel(nn.Linear(784, 10, bias=False))
    nhwc = torch.zeros(1, 7, 5, 3)
    assert last("Input(shape=(7, 5, 3)); Flatten()")[0] == (None, *torch.flatten(nhwc, 1).shape[1:])
    assert last("Input(shape=(7, 5, 3)); Dropout(0.5)")[0] == (None, 7, 5, 3)
    assert last("Input(shape=(7, 5, 3)); GlobalAveragePooling2D()")[0] == (None, *nhwc.mean(dim=(1, 2)).shape[1:])
    assert last("Input(shape=(7, 5, 3)); GlobalMaxPooling2D(keepdims=True)")[0] == (None, 1, 1, 3)
    assert last("Input(shape=(200, 16)); GlobalAveragePooling1D()")[0] == (None, 16)


@pytest.mark.parametrize(
    ("args", "torch_kwargs"),
    [
        ("10, 5", {"kernel_size": 5}),
        ("10, (3, 5), strides=2", {"kernel_size": (3, 5), "stride": 2}),
        ("10, 3, padding='same'", {"kernel_size": 3, "padding": "same"}),
        ("4, 3, dilation_rate=2, use_bias=False", {"kernel_size": 3, "dilation": 2, "bias": False}),
        ("6, 3, groups=3", {"kernel_size": 3, "groups": 3}),
    ],
)
def test_conv2d_against_torch(args: str, torch_kwargs: dict) -> None:
    shape, count = last(f"Conv2D({args}, input_shape=(28, 32, 3))")  # Keras: (height, width, channels)
    module = nn.Conv2d(3, int(args.split(",")[0]), **torch_kwargs)
    out = module(torch.zeros(1, 3, 28, 32))  # torch: (N, C, H, W)
    assert shape == (None, out.shape[2], out.shape[3], out.shape[1])
    assert count == numel(module)


def test_same_padding_with_stride_rounds_up() -> None:
    assert last("Input(shape=(28, 27, 1)); Conv2D(32, 3, strides=2, padding='same')")[0] == (None, 14, 14, 32)
    assert last("Input(shape=(5, 5, 1)); MaxPooling2D(3, strides=2, padding='same')")[0] == (None, 3, 3, 1)


@pytest.mark.parametrize(("args", "kernel", "stride"), [("", 2, 2), ("3", 3, 3), ("(2, 3), strides=1", (2, 3), 1)])
def test_pooling_against_torch(args: str, kernel: int | tuple[int, int], stride: int) -> None:
    module = nn.MaxPool2d(kernel, stride)
    out = module(torch.zeros(1, 4, 28, 25))
    for layer in ("MaxPooling2D", "AveragePooling2D"):
        assert last(f"Input(shape=(28, 25, 4)); {layer}({args})") == ((None, out.shape[2], out.shape[3], 4), 0)


def test_batchnorm_counts_moving_statistics_as_non_trainable() -> None:
    summary = keras_summary("Input(shape=(8, 8, 64)); BatchNormalization()")
    module = nn.BatchNorm2d(64)
    params = summary.layers[-1].params
    assert params.trainable == numel(module)
    assert params.non_trainable == module.running_mean.numel() + module.running_var.numel()
    assert (summary.total, summary.trainable, summary.non_trainable) == (256, 128, 128)
    assert keras_summary("Input(shape=(8, 8, 64)); BatchNormalization(center=False)").trainable == 64


def test_parsing_details() -> None:
    assert split_layers("Dense(1, name='a;b'); Flatten();") == ["Dense(1, name='a;b')", "Flatten()"]
    assert parse_layer("layers.Dense(256, 'relu', kernel_initializer=None)", 1) == (
        "Dense", [256, "relu"], {"kernel_initializer": None})
    frozen = keras_summary("Input(shape=(4,)); Dense(3, trainable=False)")
    assert (frozen.total, frozen.trainable, frozen.non_trainable) == (15, 0, 15)
    assert keras_summary("Input(shape=(4,), batch_size=8); Dense(3)").layers[-1].output_shape == (8, 3)


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("Dense(256); Dense(1)",
         "layer 1 'Dense\\(256\\)': Dense needs an input shape first; start with Input\\(shape="),
        ("Embedding(10, 2); Lstm(3)", "layer 2 'Lstm\\(3\\)': unknown layer 'Lstm'; did you mean LSTM\\? supported: "
                                      "AveragePooling2D, BatchNormalization"),
        ("Embedding(10, 2); Foo()", "unknown layer 'Foo'; supported: .*SimpleRNN"),
        ("Embedding(10, 2); LSTM(3", "layer 2 'LSTM\\(3': unbalanced parentheses"),
        ("Embedding(10, 2)); LSTM(3)", "layer 1 'Embedding\\(10, 2\\)\\)': unbalanced parentheses"),
        ("Embedding(10, 2);; LSTM(3)", "layer 2 is empty"),
        ("  ", "the Keras description is empty"),
        ("Embedding(10, 2); LSTM 3", "layer 2 'LSTM 3': malformed"),
        ("Embedding(10, 2); 42", "layer 2 '42': expected a layer call"),
        ("Input(shape=(4,)); Dense(-3)", "layer 2 'Dense\\(-3\\)': units must be a positive integer, got -3"),
        ("Input(shape=(4,)); Dense('a')", "units must be an integer, got 'a'"),
        ("Input(shape=(4,)); Dense(units=2, size=3)", "Dense has no argument 'size'; its arguments: units, use_bias"),
        ("Input(shape=(4,)); Dense(2, units=3)", "Dense got 'units' twice"),
        ("Input(shape=(4,)); Dense()", "Dense needs the argument 'units'"),
        ("Input(shape=(4,)); Dense(1, None, True, 4)", "Dense takes at most 3 positional arguments, got 4"),
        ("Input(shape=(4,)); Dense(1+1)", "bad argument '1 \\+ 1'"),
        ("Input(shape=(4,)); Dense(__import__('os').getpid())", "bad argument"),
        ("Input(shape=(4,)); Dense(*[1])", "\\*args and \\*\\*kwargs are not supported"),
        ("Input(shape=(4,)); Dropout(1.5)", "rate must be a number in \\[0, 1\\), got 1.5"),
        ("Input(shape=(4,)); Input(shape=(4,))", "layer 2 .*must be the first layer"),
        ("Input(shape=(4, 3)); LSTM(2); LSTM(2)", "layer 3 'LSTM\\(2\\)': LSTM needs a 3-D input .* got \\(None, 2\\); "
                                                  "return_sequences=True"),
        ("Input(shape=(4, 4, 1)); Conv2D(3, 5)", "layer 2 .*kernel 5 is larger than the padded input height 4"),
        ("Input(shape=(8, 8, 1)); Conv2D(3, 3, padding='full')", "padding must be 'valid' or 'same', got 'full'"),
        ("Input(shape=(8, 8, 1)); Conv2D(3, 3, data_format='channels_first')", "only data_format='channels_last'"),
        ("Input(shape=(None, 4)); Flatten()", "Flatten needs every dimension known"),
        ("Input(shape=(4,)); Dense(2, trainable=1)", "trainable must be True or False, got 1"),
    ],
)
def test_user_errors_name_the_layer(description: str, message: str) -> None:
    with pytest.raises(TrainlabError, match=message):
        keras_summary(description)
