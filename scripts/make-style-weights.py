#!/usr/bin/env python
"""Turn a trainlab VGG run into the feature net of ``trainlab style``: only the ``features.*`` tensors (float32), in
``OUT.pt`` as ``{"state_dict": {...}}``, and beside it ``OUT.json`` with the mean/std the run trained with, its model
section and where the weights came from (read by trainlab.style.features.read_sidecar).

    .venv/bin/python scripts/make-style-weights.py runs/pretrain/<stamp>/base \\
        src/trainlab/style/assets/vgg13_bn_w0.25_course.pt --notes "VGG-13 BN, width 0.25, course images at 64x64"

The file is checked to build a style feature net before anything is written; both files are written atomically.
"""

from __future__ import annotations

import argparse
import io
import sys
from datetime import date
from pathlib import Path

import torch

from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_bytes, write_json
from trainlab.models.weights import read_weights
from trainlab.style.features import PREFIX, infer_architecture


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a trainlab VGG run folder (variant or single-variant study), or its checkpoint")
    parser.add_argument("out", type=Path, help="the .pt file to write (its .json sidecar goes beside it)")
    parser.add_argument("--notes", default="", help="a line on what the net was trained on, for the report")
    args = parser.parse_args(argv)
    try:
        weights = read_weights(args.run)
        if weights.mean is None or weights.std is None:
            raise TrainlabError(f"{args.run} does not record the normalization it trained with; pass a trainlab run")
        features = {key: value.float() if value.is_floating_point() else value
                    for key, value in weights.state.items() if key.startswith(PREFIX)}
        arch, _ = infer_architecture(features, weights.source, weights.model)
    except TrainlabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    buffer = io.BytesIO()
    torch.save({"state_dict": features}, buffer)
    atomic_write_bytes(args.out, buffer.getvalue())
    write_json(args.out.with_suffix(".json"), {
        "mean": list(weights.mean), "std": list(weights.std), "source": f"{weights.kind} {weights.source}",
        "architecture": arch.describe(), "model": weights.model, "notes": args.notes, "made": date.today().isoformat(),
    })
    size = args.out.stat().st_size / 2**20
    print(f"{args.out} ({size:.1f} MiB, {arch.describe()}) and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
