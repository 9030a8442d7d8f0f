"""``training.compile``: torch.compile of a run's model, with a fallback to eager when compilation fails.

The model is compiled in place (``nn.Module.compile``), so its ``state_dict`` keys stay its own: checkpoints, resumes,
``trainlab predict`` and pretrained-weights loading see the same names with or without compilation (``torch.compile``
would wrap it and prefix every key with ``_orig_mod.``). Compilation is lazy; one forward pass on the input adapter's
example input compiles the model as soon as it is on its device, so a missing compiler or an unsupported backend (no
C++ compiler, no Triton for the GPU) shows up there, before training: the model then runs eager, the run's log says
why, and the variant's ``metrics.json`` notes it. That trial runs in eval mode without gradients, so it leaves the
weights and BatchNorm statistics untouched; the training graph compiles at the first training step.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

LOG = logging.getLogger(__name__)
COMPILED = "compiled with torch.compile"


def compile_in_place(model: nn.Module, example: tuple[torch.Tensor, ...]) -> str:
    """Compile ``model`` in place and run it once on ``example``; the note to record: compiled, or why it runs eager."""
    model.compile()
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(*example)
    except Exception as error:  # inductor and its backends fail with many exception types
        model._compiled_call_impl = None  # nn.Module.compile's hook: None is eager again
        reason = f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
        LOG.warning("training.compile: torch.compile failed, the model runs eager (%s)", reason)
        return f"torch.compile failed, ran eager ({reason})"
    finally:
        model.train(was_training)
    return COMPILED
