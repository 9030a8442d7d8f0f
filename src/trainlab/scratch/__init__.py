"""From-scratch NumPy recurrent nets (float64) with hand-written backpropagation through time.

Nothing in this package imports torch: the nets are checked against torch autograd only from
:mod:`trainlab.checks.gradcheck` and the tests.
"""

from trainlab.scratch.activations import sigmoid, sigmoid_grad, softmax, tanh, tanh_grad
from trainlab.scratch.loss import sequence_loss
from trainlab.scratch.lstm import GATES, GateParams, LSTMCache, LSTMCell, LSTMParams, LSTMStepGrads
from trainlab.scratch.rnn import RNNCache, RNNCell, RNNParams, RNNStepGrads

__all__ = [
    "GATES",
    "GateParams",
    "LSTMCache",
    "LSTMCell",
    "LSTMParams",
    "LSTMStepGrads",
    "RNNCache",
    "RNNCell",
    "RNNParams",
    "RNNStepGrads",
    "sequence_loss",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "tanh",
    "tanh_grad",
]
