"""Forecasting training speed: trainlab's Lightning trainer against a plain PyTorch loop over the same windows.

    python bench/bench_forecast.py                                   # weekly CO2 (embedded), series_gru
    python bench/bench_forecast.py --model series_lstm --pairs 4 --json
    python bench/bench_forecast.py --data ../shared/data/walmart_retail/archive.zip --max-series 500

What is measured: training samples (windows) per second, steady state. The trainer side is ``fit_variant`` (Lightning
with trainlab's RegressionModule: masked MSE on the scaled targets, plus its per-epoch WMAE and logging); the plain
side is the loop a careful PyTorch user writes by hand: the same model class built from the same recipe, Adam (the
recipe's optimizer), masked MSE, the same batches from ``make_loader``, on the same device and precision. Both train
for the same epochs; the first is warm-up and excluded from both, and the trainer's validation epochs are not timed.
Pairs run in ABBA order in one process; the ratio is the median of the per-pair trainer/plain ratios (above 1: the
trainer is faster). Data: the ``co2`` series by default (forecast-demo recipe), or with ``--data`` the Retail Data
Analytics archive (retail-gru recipe: store x dept windows). Speed is measured here, never asserted in a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from pairs import abba_pairs, trainer_samples_per_s

from trainlab.config import Recipe, load_recipe
from trainlab.data import DataBundle, WindowSplit, build_dataset, make_loader
from trainlab.models.recipe import build_recipe_model
from trainlab.train.optim import build_optimizer
from trainlab.train.runtime import Runtime, resolve_runtime

# source → (packaged recipe giving the data options and optimizer, default epochs per side: co2 has ~2k windows)
SOURCES = {"co2": ("forecast-demo", 10), "retail": ("retail-gru", 2)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def masked_mse(predicted: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MSE over the target steps whose week has a row (RegressionModule's loss)."""
    weights = mask.to(predicted.dtype)
    return ((predicted - target).square() * weights).sum() / weights.sum().clamp_min(1.0)


def plain_loop_samples_per_s(recipe: Recipe, bundle: DataBundle, runtime: Runtime, epochs: int) -> float:
    """The loop a careful PyTorch user writes by hand over the same loader; the first epoch is warm-up."""
    device = torch.device("cuda" if runtime.accelerator == "gpu" else "cpu")
    torch.use_deterministic_algorithms(runtime.deterministic)  # what Lightning sets for the trainer's side
    torch.manual_seed(recipe.seed)
    model = build_recipe_model(recipe, len(bundle.classes), bundle.input_spec).to(device)
    optimizer = build_optimizer(model, recipe.training, recipe.regularization.weight_decay)
    loader = make_loader(bundle.train, batch_size=recipe.training.batch_size, shuffle=True, seed=recipe.seed)
    use_bf16 = runtime.precision.startswith("bf16")
    model.train()
    seen, seconds = 0, 0.0
    for epoch in range(epochs):
        _sync(device)
        started = time.perf_counter()
        count = 0
        for batch in loader:
            x, future, y, mask = (batch[key].to(device, non_blocking=True) for key in ("x", "future", "y", "mask"))
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                predicted = model(x, future).float()
            loss = masked_mse(predicted, y, mask)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            count += len(y)
        _sync(device)
        if epoch > 0:
            seen, seconds = seen + count, seconds + time.perf_counter() - started
    return seen / seconds


def print_table(report: dict[str, Any]) -> None:
    """The report as a few header lines and one row per pair."""
    print(f"{report['recipe']} ({report['source']}, {report['train_windows']:,} training windows of "
          f"{report['window']}x{report['n_features']} → {report['horizon']}), {report['model']} "
          f"({report['params']:,} params)")
    print(f"{report['device']}, {report['precision']}, batch {report['batch_size']}, "
          f"{report['epochs_timed']} timed epochs per side")
    header = f"{'pair':>4}  {'order':<15}  {'trainer/s':>11}  {'plain/s':>11}  {'ratio':>6}"
    print(header)
    print("-" * len(header))
    runs = zip(report["trainer_runs"], report["plain_runs"], report["ratios"], strict=True)
    for pair, (trainer, plain, ratio) in enumerate(runs):
        order = "plain, trainer" if pair % 2 == 0 else "trainer, plain"
        print(f"{pair:>4}  {order:<15}  {trainer:>11,.1f}  {plain:>11,.1f}  {ratio:>6.3f}")
    print("-" * len(header))
    print(f"{'median':<21}  {report['trainer_samples_per_s']:>11,.1f}  {report['plain_loop_samples_per_s']:>11,.1f}"
          f"  {report['ratio']:>6.3f}   ({report['ratio_of']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None,
                        help="Retail Data Analytics archive.zip (or its folder): source retail; default: co2")
    parser.add_argument("--max-series", type=int, default=None, help="retail: keep the N largest store x dept series")
    parser.add_argument("--model", default="series_gru", help="series_rnn, series_lstm or series_gru")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per side; the first is warm-up (default: 10 on co2, 2 on retail)")
    parser.add_argument("--pairs", "--repeats", dest="pairs", type=int, default=2,
                        help="trainer / plain-loop pairs, in ABBA order (median of per-pair ratios)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="recipe override KEY=VALUE")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of the table")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 2:
        parser.error("--epochs must be at least 2: the first is warm-up")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    source = "co2" if args.data is None else "retail"
    recipe_name, default_epochs = SOURCES[source]
    epochs = args.epochs or default_epochs
    sized = [f"model.name={args.model}", f"training.batch_size={args.batch_size}"]
    if load_recipe(recipe_name).model.name != args.model:
        sized.append("model.options={}")  # the recipe's options are for its own model: use the model's defaults
    if args.data is not None:
        sized.append(f"data.path={args.data}")
    if args.max_series is not None:
        sized.append(f"data.options.max_series={args.max_series}")
    with tempfile.TemporaryDirectory() as scratch:
        fixed = [f"training.epochs={epochs}", "training.progress_bar=false", "training.scheduler=none",
                 "study.mode=single", "regularization.early_stopping=null"]
        recipe = load_recipe(recipe_name, [*sized, *args.overrides, *fixed])
        runtime = resolve_runtime(recipe.training)
        bundle = build_dataset(recipe.data, recipe.output.cache_dir)
        assert isinstance(bundle.train, WindowSplit), f"{recipe_name} is not a forecasting recipe"
        variant = recipe.variants()[0]
        trainer_runs, plain_runs = abba_pairs(
            args.pairs, lambda: plain_loop_samples_per_s(recipe, bundle, runtime, epochs),
            lambda repeat: trainer_samples_per_s(variant, bundle, runtime, Path(scratch) / f"base-{repeat}"))
    ratios = [t / p for t, p in zip(trainer_runs, plain_runs, strict=True)]
    params = sum(p.numel() for p in build_recipe_model(recipe, len(bundle.classes), bundle.input_spec).parameters())
    train = bundle.train
    report = {
        "recipe": recipe.name, "source": source, "model": recipe.model.name, "device": runtime.device_name,
        "precision": runtime.precision, "threads": torch.get_num_threads(), "params": params,
        "train_windows": len(train), "window": int(train.x.shape[1]), "n_features": int(train.x.shape[2]),
        "horizon": train.horizon, "batch_size": recipe.training.batch_size, "epochs_timed": epochs - 1,
        "trainer_samples_per_s": round(statistics.median(trainer_runs), 1),
        "plain_loop_samples_per_s": round(statistics.median(plain_runs), 1),
        "ratio": round(statistics.median(ratios), 3), "ratio_of": "median of per-pair trainer/plain ratios",
        "repeats": args.pairs, "trainer_runs": [round(x, 1) for x in trainer_runs],
        "plain_runs": [round(x, 1) for x in plain_runs], "ratios": [round(x, 3) for x in ratios],
        "overrides": [*sized, *args.overrides],
    }
    if args.json:
        print(json.dumps(report))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
