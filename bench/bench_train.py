"""Training speed: trainlab's Lightning trainer against a plain PyTorch loop, same model, data and process.

    python bench/bench_train.py                                  # vgg13-ablation base, course data, CPU-sized
    python bench/bench_train.py --full --epochs 3                # the recipe as written: full VGG-13, 64x64 (GPU)

Both sides train the recipe's base variant for the same epochs on the same in-memory uint8 tensors with the same
optimizer; the first epoch is warm-up and excluded from both. On CUDA the plain loop uses what the trainer uses
(data resident on the GPU, bf16 autocast, channels-last), so the ratio measures the trainer's overhead alone.
Prints one JSON line; speed is measured here, never asserted in a test.
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
from trainlab.data import DataBundle, build_dataset
from trainlab.data.augment import prepare_batch
from trainlab.models.recipe import build_recipe_model
from trainlab.train.optim import build_optimizer
from trainlab.train.runtime import Runtime, resolve_runtime

CPU_DEFAULTS = ["model.width=0.125", "model.options.batch_norm=true", "model.options.hidden=[512, 512]",
                "data.image_size=32"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop_images_per_s(recipe: Recipe, bundle: DataBundle, runtime: Runtime, epochs: int) -> float:
    """The loop a careful PyTorch user writes by hand; the first epoch is warm-up."""
    device = torch.device("cuda" if runtime.accelerator == "gpu" else "cpu")
    torch.manual_seed(recipe.seed)
    model = build_recipe_model(recipe, len(bundle.classes)).to(device)
    if runtime.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, recipe.training, recipe.regularization.weight_decay)
    mean, std = (torch.tensor(v, device=device).view(1, -1, 1, 1) for v in bundle.channel_stats())
    images, labels = bundle.train.images.to(device), bundle.train.labels.to(device)
    use_bf16 = runtime.precision.startswith("bf16")
    batch_size, count = recipe.training.batch_size, len(labels)
    seen, seconds = 0, 0.0
    for epoch in range(epochs):
        _sync(device)
        started = time.perf_counter()
        order = torch.randperm(count, device=device)
        for start in range(0, count, batch_size):
            index = order[start : start + batch_size]
            batch = prepare_batch(images[index], mean, std, None, runtime.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss = torch.nn.functional.cross_entropy(model(batch).float(), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        _sync(device)
        if epoch > 0:
            seen, seconds = seen + count, seconds + time.perf_counter() - started
    return seen / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="vgg13-ablation")
    parser.add_argument("--data", type=Path, default=None, help="course images (default: ../shared/data archive)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per side; the first is warm-up")
    parser.add_argument("--repeats", type=int, default=4, help="trainer / plain-loop pairs, in ABBA order (median)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="recipe override KEY=VALUE")
    parser.add_argument("--full", action="store_true", help="skip the CPU-sized defaults (narrow model, 32x32)")
    args = parser.parse_args(argv)
    data = args.data or Path(os.environ.get("TRAINLAB_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared"
                                            / "data")) / "cnn_dataset" / "cnn_dataset.tar.gz"
    sized = [] if args.full or torch.cuda.is_available() else CPU_DEFAULTS
    with tempfile.TemporaryDirectory() as scratch:
        fixed = [f"data.path={data}", f"training.epochs={args.epochs}", "training.progress_bar=false",
                 "study.mode=single", f"output.cache_dir={Path('.cache/trainlab').resolve()}"]
        recipe = load_recipe(args.recipe, [*sized, *args.overrides, *fixed])
        runtime = resolve_runtime(recipe.training)
        bundle = build_dataset(recipe.data, recipe.output.cache_dir)
        variant = recipe.variants()[0]
        trainer_runs, plain_runs = abba_pairs(
            args.repeats, lambda: plain_loop_images_per_s(recipe, bundle, runtime, args.epochs),
            lambda repeat: trainer_samples_per_s(variant, bundle, runtime, Path(scratch) / f"base-{repeat}"))
        plain, trainer = statistics.median(plain_runs), statistics.median(trainer_runs)
        ratio = statistics.median(t / p for t, p in zip(trainer_runs, plain_runs, strict=True))
    params = sum(p.numel() for p in build_recipe_model(recipe, len(bundle.classes)).parameters())
    report = {
        "recipe": recipe.name, "device": runtime.device_name, "precision": runtime.precision,
        "channels_last": runtime.channels_last, "train_images": len(bundle.train),
        "image_shape": list(bundle.image_shape), "params": params,
        "batch_size": recipe.training.batch_size, "epochs_timed": args.epochs - 1,
        "trainer_images_per_s": round(trainer, 1), "plain_loop_images_per_s": round(plain, 1),
        "ratio": round(ratio, 3), "ratio_of": "median of per-pair trainer/plain ratios", "repeats": args.repeats,
        "trainer_runs": [round(x, 1) for x in trainer_runs], "plain_runs": [round(x, 1) for x in plain_runs],
        "overrides": [*sized, *args.overrides],
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
