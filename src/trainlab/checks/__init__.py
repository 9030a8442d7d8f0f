"""Checks of the from-scratch nets in :mod:`trainlab.scratch`: gradient checks (finite differences and torch autograd),
the gradient-flow study and the LSTM step calculator. Modules here may import torch; import them lazily from the CLI.
"""
