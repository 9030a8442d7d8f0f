"""Forecasting models: windows of a time series ``x`` [N, window, n_features] and the known future ``future``
[N, horizon, n_future] → the scaled predictions [N, horizon] (input kind ``window``, see
:class:`~trainlab.data.specs.WindowSpec`).

One class, :class:`SeriesForecaster`, runs its recurrent layers over ``x`` in order, takes the last layer's output
at the last time step, appends the flattened future covariates and applies one Linear::

    x → RNN/LSTM/GRU layer(s) → out[:, -1] → Dropout → concat(·, future.flatten(1))
      → Linear(h + horizon·n_future, horizon)

With ``n_future = 0`` the head is exactly ``Linear(h, horizon)``: the course's models. ``residual: true`` adds the
last observed value (``x[:, -1, 0]``: a window's first feature is the scaled target) to every predicted step and
starts the head at zero, so an untrained model is the naive forecast and training learns the change from it (no
parameters added). ``dropout`` sits between
recurrent layers and before the head (on the hidden state only: the covariates are known values, not features to
regularize). ``width`` scales every hidden size (``max(1, round(size * width))``); ``num_classes`` means nothing to a
regression and is ignored.

Parameter counts follow PyTorch's convention: two bias vectors per gate set (``b_ih`` and ``b_hh``), one in Keras, so
a Keras LSTM layer has ``4h`` fewer. For n_features = 17, horizon 1, n_future 0 (derived from the formulas in
``tests/models/test_forecast_models.py``): ``series_rnn`` 13,701, ``series_lstm`` 2,048,001 (Keras: 2,044,417),
``series_gru`` 40,961.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainlab.errors import TrainlabError
from trainlab.models.common import scaled
from trainlab.models.registry import MODELS
from trainlab.validate import check_int

MAX_SIZE = 1 << 16  # hidden units: an LSTM layer of that size already has 34 G parameters
MAX_LAYERS = 64
MAX_FEATURES = 1 << 16  # columns of x, or known-future covariates per predicted step
MAX_HORIZON = 1 << 12  # predicted steps: 78 years of weeks


class RecurrentOutput(nn.Module):
    """One recurrent module as a step of an ``nn.Sequential``: its output sequence [N, T, h], the state dropped."""

    def __init__(self, rnn: nn.RNNBase) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


class SeriesForecaster(nn.Module):
    """The shared encoder plus head: the recurrent ``layers`` run in order over ``x`` (Dropout between separate ones;
    a multi-layer nn.RNN/GRU drops out between its own layers), the last step of the last one's output (after
    Dropout) joins the flattened future covariates, and one Linear predicts every horizon step at once."""

    def __init__(self, layers: Sequence[nn.RNNBase], horizon: int, n_future: int, dropout: float,
                 residual: bool = False) -> None:
        super().__init__()
        steps: list[nn.Module] = []
        for layer in layers:
            if steps and dropout > 0:
                steps.append(nn.Dropout(dropout))
            steps.append(RecurrentOutput(layer))
        self.encoder = nn.Sequential(*steps)  # one container in forward order: a readable torchinfo table
        self.horizon = horizon
        self.n_future = n_future
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(layers[-1].hidden_size + horizon * n_future, horizon)
        self.residual = residual
        if residual:  # an untrained model is the naive forecast; training learns the change from it
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        if tuple(future.shape[1:]) != (self.horizon, self.n_future):
            raise ValueError(f"future must be [N, {self.horizon}, {self.n_future}], got {list(future.shape)}")
        last = self.encoder(x)[:, -1]
        predicted = self.head(torch.cat([self.dropout(last), future.flatten(1).to(last.dtype)], dim=1))
        return predicted + x[:, -1, :1] if self.residual else predicted


class SeriesRNN(SeriesForecaster):
    """Stacked tanh ``nn.RNN`` (the course report's "stacked RNN, 3 layers, hidden 50, last step → Linear")."""

    def __init__(self, n_features: int, horizon: int, n_future: int, hidden_size: int, num_layers: int,
                 dropout: float, residual: bool = False) -> None:
        rnn = nn.RNN(n_features, hidden_size, num_layers=num_layers, batch_first=True, nonlinearity="tanh",
                     dropout=dropout if num_layers > 1 else 0.0)
        super().__init__([rnn], horizon, n_future, dropout, residual)


class SeriesLSTM(SeriesForecaster):
    """The course's LSTM stack: one ``nn.LSTM`` per size (128 → 256 → 512 by default), each of its own width, which a
    single multi-layer nn.LSTM cannot express; Dropout between them."""

    def __init__(self, n_features: int, horizon: int, n_future: int, hidden_sizes: Sequence[int],
                 dropout: float, residual: bool = False) -> None:
        inputs = [n_features, *hidden_sizes[:-1]]
        layers = [nn.LSTM(i, h, batch_first=True) for i, h in zip(inputs, hidden_sizes, strict=True)]
        super().__init__(layers, horizon, n_future, dropout, residual)


class SeriesGRU(SeriesForecaster):
    """Stacked ``nn.GRU``: fewer parameters than the LSTM for a comparable memory of the past."""

    def __init__(self, n_features: int, horizon: int, n_future: int, hidden_size: int, num_layers: int,
                 dropout: float, residual: bool = False) -> None:
        gru = nn.GRU(n_features, hidden_size, num_layers=num_layers, batch_first=True,
                     dropout=dropout if num_layers > 1 else 0.0)
        super().__init__([gru], horizon, n_future, dropout, residual)


# --- option checks (the registry's signatures give the names and defaults; these the values) ------------------------


def _size(model: str, option: str, value: object, maximum: int) -> int:
    return check_int(f"model {model!r} option {option!r}", value, 1, maximum)


def _sizes(model: str, option: str, value: object) -> list[int]:
    """A non-empty list of hidden sizes, each from 1 to MAX_SIZE, or one line naming the option."""
    if (isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIZE for v in value)):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise TrainlabError(f"model {model!r} option {option!r} must be a non-empty list of integers from 1 to "
                            f"{MAX_SIZE:,}, e.g. [128, 256, 512], got {shown}")
    return list(value)


def _flag(model: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TrainlabError(f"model {model!r} option 'residual' must be true or false, got {value!r}")
    return value


# --- builders ---------------------------------------------------------------------------------------------------------


@MODELS.register("series_rnn", input="window", description="stacked tanh RNN(50) x3 → last step → linear")
def build_series_rnn(*, num_classes: int = 0, n_features: int, horizon: int, n_future: int = 0,
                     dropout: float = 0.0, width: float = 1.0, hidden_size: int = 50,
                     num_layers: int = 3, residual: bool = False) -> SeriesRNN:
    """The course report's RNN; ``num_classes`` is ignored (a regression)."""
    del num_classes
    hidden = scaled(_size("series_rnn", "hidden_size", hidden_size, MAX_SIZE), width)
    layers = _size("series_rnn", "num_layers", num_layers, MAX_LAYERS)
    return SeriesRNN(n_features, horizon, n_future, hidden, layers, dropout, _flag("series_rnn", residual))


@MODELS.register("series_lstm", input="window", description="LSTM 128 → 256 → 512 → last step → linear (the course's)")
def build_series_lstm(*, num_classes: int = 0, n_features: int, horizon: int, n_future: int = 0,
                      dropout: float = 0.0, width: float = 1.0,
                      hidden_sizes: Sequence[int] = (128, 256, 512), residual: bool = False) -> SeriesLSTM:
    """The course's LSTM stack; ``num_classes`` is ignored (a regression)."""
    del num_classes
    sizes = [scaled(size, width) for size in _sizes("series_lstm", "hidden_sizes", hidden_sizes)]
    if len(sizes) > MAX_LAYERS:
        raise TrainlabError(f"model 'series_lstm' option 'hidden_sizes' has {len(sizes)} layers, at most "
                            f"{MAX_LAYERS} allowed")
    return SeriesLSTM(n_features, horizon, n_future, sizes, dropout, _flag("series_lstm", residual))


@MODELS.register("series_gru", input="window", description="stacked GRU(64) x2 → last step → linear")
def build_series_gru(*, num_classes: int = 0, n_features: int, horizon: int, n_future: int = 0,
                     dropout: float = 0.0, width: float = 1.0, hidden_size: int = 64,
                     num_layers: int = 2, residual: bool = False) -> SeriesGRU:
    """A lighter recurrent forecaster; ``num_classes`` is ignored (a regression)."""
    del num_classes
    hidden = scaled(_size("series_gru", "hidden_size", hidden_size, MAX_SIZE), width)
    layers = _size("series_gru", "num_layers", num_layers, MAX_LAYERS)
    return SeriesGRU(n_features, horizon, n_future, hidden, layers, dropout, _flag("series_gru", residual))
