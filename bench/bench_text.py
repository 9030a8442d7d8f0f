"""Text training speed: trainlab's Lightning trainer against a plain PyTorch loop over the same packed batches.

    python bench/bench_text.py                          # airline-lstm base (Embedding 128 → LSTM 3×256), CPU-sized
    python bench/bench_text.py --set data.max_per_class=null --epochs 3      # every tweet

Both sides train the recipe's base model for the same epochs on the same token batches (the same loader: batches cut
to their longest real length, lengths for ``pack_padded_sequence``) with the same optimizer; the first epoch is
warm-up and excluded from both. Prints one JSON line; speed is measured here, never asserted in a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from pairs import abba_pairs, trainer_samples_per_s

from trainlab.config import Recipe, load_recipe
from trainlab.data import DataBundle, build_dataset, make_loader
from trainlab.models.recipe import build_recipe_model
from trainlab.train.optim import build_optimizer
from trainlab.train.runtime import resolve_runtime

CPU_DEFAULTS = ["data.max_per_class=800"]


def plain_loop_samples_per_s(recipe: Recipe, bundle: DataBundle, epochs: int) -> float:
    """The loop a careful PyTorch user writes by hand over the same loader; the first epoch is warm-up."""
    torch.manual_seed(recipe.seed)
    model = build_recipe_model(recipe, len(bundle.classes), bundle.input_spec)
    optimizer = build_optimizer(model, recipe.training, recipe.regularization.weight_decay)
    loader = make_loader(bundle.train, batch_size=recipe.training.batch_size, shuffle=True, seed=recipe.seed)
    model.train()
    seen, seconds = 0, 0.0
    for epoch in range(epochs):
        started = time.perf_counter()
        count = 0
        for batch in loader:
            loss = torch.nn.functional.cross_entropy(model(batch["x"], batch["lengths"]), batch["y"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            count += len(batch["y"])
        if epoch > 0:
            seen, seconds = seen + count, seconds + time.perf_counter() - started
    return seen / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="airline-lstm")
    parser.add_argument("--data", type=Path, default=None, help="Tweets.csv (default: ../shared/data)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per side; the first is warm-up")
    parser.add_argument("--repeats", type=int, default=2, help="trainer / plain-loop pairs, in ABBA order (median)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="recipe override KEY=VALUE")
    args = parser.parse_args(argv)
    shared = Path(os.environ.get("TRAINLAB_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    data = args.data or shared / "twitter_airline_sentiment" / "Tweets.csv"
    with tempfile.TemporaryDirectory() as scratch:
        fixed = [f"data.path={data}", f"training.epochs={args.epochs}", "training.progress_bar=false",
                 "study.mode=single", "regularization.early_stopping=null"]
        recipe = load_recipe(args.recipe, [*CPU_DEFAULTS, *args.overrides, *fixed])
        runtime = resolve_runtime(recipe.training)
        bundle = build_dataset(recipe.data, recipe.output.cache_dir)
        variant = recipe.variants()[0]
        trainer_runs, plain_runs = abba_pairs(
            args.repeats, lambda: plain_loop_samples_per_s(recipe, bundle, args.epochs),
            lambda repeat: trainer_samples_per_s(variant, bundle, runtime, Path(scratch) / f"base-{repeat}"))
        ratio = statistics.median(t / p for t, p in zip(trainer_runs, plain_runs, strict=True))
    params = sum(p.numel() for p in build_recipe_model(recipe, len(bundle.classes), bundle.input_spec).parameters())
    print(json.dumps({
        "recipe": recipe.name, "model": recipe.model.name, "device": runtime.device_name, "params": params,
        "train_texts": len(bundle.train), "vocab_size": bundle.input_spec.vocab_size,
        "max_len": bundle.input_spec.max_len, "batch_size": recipe.training.batch_size,
        "epochs_timed": args.epochs - 1, "trainer_samples_per_s": round(statistics.median(trainer_runs), 1),
        "plain_loop_samples_per_s": round(statistics.median(plain_runs), 1), "ratio": round(ratio, 3),
        "ratio_of": "median of per-pair trainer/plain ratios", "repeats": args.repeats,
        "trainer_runs": [round(x, 1) for x in trainer_runs], "plain_runs": [round(x, 1) for x in plain_runs],
        "overrides": [*CPU_DEFAULTS, *args.overrides],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
