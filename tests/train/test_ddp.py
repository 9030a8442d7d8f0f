"""Lightning DDP through torchrun, on two CPU processes (gloo): one run folder, exact-once evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest


@pytest.mark.skipif(sys.platform != "linux", reason="torchrun with gloo is exercised on Linux")
def test_torchrun_two_processes_write_one_report(tmp_path: Path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [
        str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "trainlab.cli", "run", "digits-demo",
        "--out", str(tmp_path / "runs"),
        "--set", f"output.cache_dir={tmp_path / 'cache'}", "--set", "study.mode=single",
        "--set", "training.epochs=1", "--set", "training.devices=2", "--set", "training.strategy=ddp",
        "--set", "training.accelerator=cpu", "--set", "training.progress_bar=false",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("report:") == 1  # only rank 0 speaks
    (run_dir,) = (tmp_path / "runs" / "digits-demo").iterdir()  # both ranks agreed on one folder
    assert run_dir.name.startswith("job-") and (run_dir / "report.html").is_file()
    # rank 0 scores the baselines after training, alone, while the process group is still up
    baselines = json.loads((run_dir / "baselines.json").read_text())["baselines"]
    assert [row["name"] for row in baselines] == ["majority", "logistic"]
    metrics = json.loads((run_dir / "base" / "metrics.json").read_text())
    test_counts = json.loads((run_dir / "study.json").read_text())["data"]["counts"]["test"]
    # every test image evaluated exactly once across the two ranks: no padding duplicates
    assert sum(c["support"] for c in metrics["test"]["per_class"].values()) == sum(test_counts.values()) == 270
    # predictions gathered from both ranks back into the test split's order: one row per example, none twice
    predictions = pd.read_csv(run_dir / "base" / "predictions.csv", dtype={"true": str, "predicted": str})
    assert predictions["index"].tolist() == list(range(270)) and predictions["id"].is_unique
    assert (predictions["true"] == predictions["predicted"]).mean() == pytest.approx(metrics["test"]["accuracy"])
    classes = metrics["classes"]
    matrix = pd.crosstab(predictions["true"], predictions["predicted"]).reindex(index=classes, columns=classes,
                                                                              fill_value=0)
    assert matrix.to_numpy().tolist() == metrics["test"]["confusion_matrix"]  # rows matched to their examples


@pytest.mark.skipif(sys.platform != "linux", reason="torchrun with gloo is exercised on Linux")
def test_torchrun_regression_scores_every_test_window_once(tmp_path: Path) -> None:
    """WMAE is a weighted MeanMetric and R² a sum of squares: synced, not averaged per rank, they equal the numbers
    computed from predictions.csv, which holds every test window exactly once in the split's order."""
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [
        str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "trainlab.cli", "run", "forecast-demo",
        "--out", str(tmp_path / "runs"), "--set", "study.mode=single", "--set", "study.repeats=1",
        "--set", "study.baselines=[]", "--set", "training.epochs=1", "--set", "training.devices=2",
        "--set", "training.strategy=ddp", "--set", "training.accelerator=cpu", "--set", "training.progress_bar=false",
        "--set", "data.options.horizon=3",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs" / "forecast-demo").iterdir()
    test = json.loads((run_dir / "base" / "metrics.json").read_text())["test"]
    windows = json.loads((run_dir / "study.json").read_text())["data"]["counts"]["test"]["windows"]
    predictions = pd.read_csv(run_dir / "base" / "predictions.csv")
    assert test["count"] == len(predictions) == 3 * windows  # an odd split (103 windows) over two ranks, no padding
    assert predictions["index"].tolist() == [index for index in range(windows) for _ in range(3)]
    errors = predictions["predicted"] - predictions["true"]
    weights = predictions["weight"]
    assert test["wmae"] == pytest.approx(float((errors.abs() * weights).sum() / weights.sum()), rel=1e-5)
    assert test["rmse"] == pytest.approx(float((errors**2).mean() ** 0.5), rel=1e-5)
    residual = float((errors**2).sum())
    total = float(((predictions["true"] - predictions["true"].mean()) ** 2).sum())
    assert test["r2"] == pytest.approx(1 - residual / total, abs=1e-4)
