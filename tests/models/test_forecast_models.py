"""The forecasting models (input kind ``window``): exact parameter counts from the formulas, output shapes with and
without known-future covariates, dropout, option and input checks, the meta device, and a few training steps."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch
from torch import nn

from trainlab.calc.params import recurrent_params
from trainlab.config import load_recipe
from trainlab.data.specs import WindowSpec
from trainlab.errors import TrainlabError
from trainlab.models import INPUT_ARGS, build_model, model_input, model_names, model_options
from trainlab.models.recipe import input_args

WINDOW_MODELS = ("series_gru", "series_lstm", "series_rnn")
COURSE = {"num_classes": 0, "n_features": 17, "horizon": 1, "n_future": 0}  # the course's 17 columns, one week ahead
SMALL = {"width": 0.125}  # hidden sizes 6 (rnn), 16 → 32 → 64 (lstm), 8 (gru)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def fails_with(message: str) -> Any:
    return pytest.raises(TrainlabError, match="^" + re.escape(message))


# PyTorch's recurrent layers: gates·(h·(i + h) + 2h), two bias vectors per gate set (b_ih, b_hh); Keras has one.
def rnn_layer(i: int, h: int) -> int:
    return h * (i + h) + 2 * h


def lstm_layer(i: int, h: int) -> int:
    return 4 * (h * (i + h) + 2 * h)


def gru_layer(i: int, h: int) -> int:
    return 3 * (h * (i + h) + 2 * h)


def linear(i: int, o: int) -> int:
    return i * o + o


def batch(n: int, window: int, n_features: int, horizon: int, n_future: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(n, window, n_features), torch.randn(n, horizon, n_future)


# --- parameter counts -------------------------------------------------------------------------------------------------


def test_course_parameter_counts() -> None:
    rnn = rnn_layer(17, 50) + 2 * rnn_layer(50, 50) + linear(50, 1)
    lstm = lstm_layer(17, 128) + lstm_layer(128, 256) + lstm_layer(256, 512) + linear(512, 1)
    gru = gru_layer(17, 64) + gru_layer(64, 64) + linear(64, 1)
    assert (rnn, lstm, gru) == (13_701, 2_048_001, 40_961)
    assert n_params(build_model("series_rnn", **COURSE)) == rnn
    assert n_params(build_model("series_lstm", **COURSE)) == lstm
    assert n_params(build_model("series_gru", **COURSE)) == gru
    # The same layers in the calculator, and Keras' count: one bias vector per gate set, 4·h fewer per LSTM layer.
    assert lstm_layer(17, 128) == recurrent_params("lstm", 17, 128)
    keras = sum(recurrent_params("lstm", i, h, "keras") for i, h in ((17, 128), (128, 256), (256, 512)))
    assert keras + linear(512, 1) == lstm - 4 * (128 + 256 + 512) == 2_044_417


@pytest.mark.parametrize(("horizon", "n_future"), [(1, 0), (29, 0), (29, 3)])
def test_the_head_reads_the_last_hidden_state_and_every_future_step(horizon: int, n_future: int) -> None:
    model = build_model("series_lstm", **COURSE | {"horizon": horizon, "n_future": n_future})
    assert (model.head.in_features, model.head.out_features) == (512 + horizon * n_future, horizon)
    encoder = lstm_layer(17, 128) + lstm_layer(128, 256) + lstm_layer(256, 512)
    assert n_params(model) == encoder + linear(512 + horizon * n_future, horizon)


def test_options_and_width_change_the_sizes() -> None:
    rnn = build_model("series_rnn", **COURSE, options={"hidden_size": 8, "num_layers": 1})
    assert n_params(rnn) == rnn_layer(17, 8) + linear(8, 1)
    lstm = build_model("series_lstm", **COURSE, options={"hidden_sizes": [32, 16]})
    assert n_params(lstm) == lstm_layer(17, 32) + lstm_layer(32, 16) + linear(16, 1)
    gru = build_model("series_gru", **COURSE, width=0.5)  # hidden 64 → 32
    assert n_params(gru) == gru_layer(17, 32) + gru_layer(32, 32) + linear(32, 1)


# --- forward ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", WINDOW_MODELS)
@pytest.mark.parametrize(("horizon", "n_future"), [(1, 0), (29, 0), (1, 4), (29, 4)])
def test_forward_backward_shapes(name: str, horizon: int, n_future: int) -> None:
    torch.manual_seed(0)
    model = build_model(name, num_classes=0, n_features=5, horizon=horizon, n_future=n_future, **SMALL)
    x, future = batch(3, 8, 5, horizon, n_future)
    out = model(x, future)
    assert out.shape == (3, horizon) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    out.sum().backward()
    for param_name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), param_name


def test_the_future_covariates_change_the_prediction() -> None:
    torch.manual_seed(0)
    model = build_model("series_gru", num_classes=0, n_features=5, horizon=2, n_future=3, **SMALL).eval()
    x, future = batch(2, 8, 5, 2, 3)
    with torch.no_grad():
        assert not torch.equal(model(x, future), model(x, future + 1))
    with pytest.raises(ValueError, match=r"future must be \[N, 2, 3\], got \[2, 2, 4\]"):
        model(x, torch.zeros(2, 2, 4))


@pytest.mark.parametrize("name", WINDOW_MODELS)
def test_dropout_acts_in_train_mode_only(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, num_classes=0, n_features=5, horizon=3, n_future=2, dropout=0.5, **SMALL)
    assert any(isinstance(module, nn.Dropout) and module.p == 0.5 for module in model.modules())
    x, future = batch(16, 8, 5, 3, 2)
    with torch.no_grad():
        model.train()
        assert not torch.equal(model(x, future), model(x, future))
        model.eval()
        assert torch.equal(model(x, future), model(x, future))
    plain = build_model(name, num_classes=0, n_features=5, horizon=3, n_future=2, **SMALL)
    assert not any(isinstance(module, nn.Dropout) for module in plain.modules())


def test_dropout_sits_between_recurrent_layers() -> None:
    rnn = build_model("series_rnn", **COURSE, dropout=0.25)
    assert rnn.encoder[0].rnn.dropout == 0.25  # inside the 3-layer nn.RNN
    lstm = build_model("series_lstm", **COURSE, dropout=0.25)
    kinds = [type(step).__name__ for step in lstm.encoder]
    assert kinds == ["RecurrentOutput", "Dropout", "RecurrentOutput", "Dropout", "RecurrentOutput"]
    one = build_model("series_gru", **COURSE, dropout=0.25, options={"num_layers": 1})
    assert one.encoder[0].rnn.dropout == 0.0  # one layer: nothing between (PyTorch would warn)


@pytest.mark.parametrize("name", WINDOW_MODELS)
def test_meta_device_gives_the_shapes(name: str) -> None:
    with torch.device("meta"):
        model = build_model(name, num_classes=0, n_features=17, horizon=29, n_future=3)
        out = model(torch.zeros(4, 8, 17), torch.zeros(4, 29, 3))
    assert out.shape == (4, 29) and out.is_meta


@pytest.mark.parametrize("name", WINDOW_MODELS)
def test_every_window_model_learns_a_toy_series(name: str) -> None:
    """Predict the next two steps of a sine from the last eight, plus a known-future offset per step."""
    torch.manual_seed(0)
    start = torch.rand(128, 1) * 6.28
    steps = torch.arange(10).unsqueeze(0)
    series = torch.sin(start + 0.5 * steps)
    offset = torch.randn(128, 2, 1)
    x, target = series[:, :8].unsqueeze(-1), series[:, 8:] + offset[..., 0]
    model = build_model(name, num_classes=0, n_features=1, horizon=2, n_future=1, **SMALL)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x, offset), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0], losses


# --- registry, options and inputs -------------------------------------------------------------------------------------


def test_registry_lists_the_window_models() -> None:
    assert model_names("window") == list(WINDOW_MODELS)
    assert INPUT_ARGS["window"] == ("n_features", "horizon", "n_future")
    assert all(model_input(name) in INPUT_ARGS for name in model_names())  # every model reads a known kind
    assert model_options("series_rnn") == {"hidden_size": 50, "num_layers": 3, "residual": False}
    assert model_options("series_lstm") == {"hidden_sizes": (128, 256, 512), "residual": False}
    assert model_options("series_gru") == {"hidden_size": 64, "num_layers": 2, "residual": False}


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("series_lstm", {"hidden_size": 8}, "model 'series_lstm' has no option 'hidden_size'; its options: "
                                            "hidden_sizes"),
        ("series_rnn", {"hidden": 8}, "model 'series_rnn' has no option 'hidden'; its options: hidden_size, "
                                      "num_layers"),
        ("series_gru", {"horizon": 2}, "model 'series_gru': 'horizon' is a common argument, not an option"),
        ("series_rnn", {"hidden_size": 0}, "model 'series_rnn' option 'hidden_size' must be a positive integer, got 0"),
        ("series_gru", {"num_layers": True}, "model 'series_gru' option 'num_layers' must be an integer, got True"),
        ("series_gru", {"num_layers": 65}, "model 'series_gru' option 'num_layers' must be at most 64, got 65"),
        ("series_lstm", {"hidden_sizes": []}, "model 'series_lstm' option 'hidden_sizes' must be a non-empty list"),
        ("series_lstm", {"hidden_sizes": "128"}, "model 'series_lstm' option 'hidden_sizes' must be a non-empty list"),
        ("series_lstm", {"hidden_sizes": [128, 0]},
         "model 'series_lstm' option 'hidden_sizes' must be a non-empty list of integers from 1 to 65,536, "
         "e.g. [128, 256, 512], got [128, 0]"),
    ],
)
def test_bad_options(name: str, options: dict, message: str) -> None:
    with fails_with(message):
        build_model(name, **COURSE, options=options)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_features": 0}, "n_features must be a positive integer, got 0"),
        ({"horizon": 0}, "horizon must be a positive integer, got 0"),
        ({"n_future": -1}, "n_future must be an integer >= 0, got -1"),
        ({"num_classes": -1}, "num_classes must be an integer >= 0, got -1"),
        ({"horizon": None, "vocab_size": 10},
         "model 'series_lstm' reads windows of a time series (arguments n_features, horizon, n_future), got "
         "n_features, n_future, vocab_size; the data gives token sequences; models for it: bilstm, bow"),
    ],
)
def test_bad_inputs(kwargs: dict, message: str) -> None:
    args = {key: value for key, value in (COURSE | kwargs).items() if value is not None}  # None: left out
    with fails_with(message):
        build_model("series_lstm", **args)


def test_wrong_kind_of_inputs_names_the_data() -> None:
    with fails_with("model 'series_gru' reads windows of a time series (arguments n_features, horizon, n_future), "
                    "got image_size, in_channels; the data gives images; models for it: "):
        build_model("series_gru", num_classes=0, in_channels=3, image_size=32)
    with fails_with("model 'vgg13' reads images (arguments in_channels, image_size), got horizon, n_features; the "
                    "data gives windows of a time series; models for it: series_gru, series_lstm, series_rnn"):
        build_model("vgg13", num_classes=3, n_features=17, horizon=1)


def test_num_classes_is_ignored() -> None:
    assert n_params(build_model("series_rnn", **COURSE | {"num_classes": 7})) == 13_701


def test_recipe_input_args_of_a_window_spec() -> None:
    spec = WindowSpec(window=8, horizon=29, features=tuple(f"f{i}" for i in range(17)), future=("holiday", "week"))
    assert input_args(load_recipe("digits-demo"), spec) == {"n_features": 17, "horizon": 29, "n_future": 2}
    model = build_model("series_lstm", num_classes=0, **input_args(load_recipe("digits-demo"), spec))
    assert model(torch.zeros(2, 8, 17), torch.zeros(2, 29, 2)).shape == (2, 29)
