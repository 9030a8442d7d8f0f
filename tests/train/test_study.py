"""End to end: recipe → data → model → Lightning → artifacts → report, on real (tiny) data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from trainlab.config import load_recipe
from trainlab.errors import TrainlabError
from trainlab.report.load import load_run
from trainlab.train import study as study_module
from trainlab.train.runtime import Runtime
from trainlab.train.study import run_study

FAST = ["training.epochs=3", "training.progress_bar=false", "training.batch_size=128", "study.baselines=[]"]


def _quiet(_: str) -> None:
    pass


def _run(tmp_path: Path, recipe: str, *overrides: str, resume: Path | None = None) -> Path:
    loaded = load_recipe(recipe, [*FAST, f"output.dir={tmp_path / 'runs'}",
                                  f"output.cache_dir={tmp_path / 'cache'}", *overrides])
    return run_study(loaded, resume=resume, notify=_quiet)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("demo"), "digits-demo", "study.baselines=[majority, logistic]")


def test_demo_study_writes_every_artifact(demo_run: Path) -> None:
    study = json.loads((demo_run / "study.json").read_text())
    assert [v["name"] for v in study["variants"]] == [
        "base", "+l2", "+l2+dropout", "+l2+dropout+early_stopping", "+l2+dropout+early_stopping+augmentation",
    ]
    assert sum(study["data"]["counts"]["train"].values()) + sum(study["data"]["counts"]["val"].values()) + sum(
        study["data"]["counts"]["test"].values()) == 1797
    for variant in study["variants"]:
        folder = demo_run / variant["folder"]
        for name in ("config.yaml", "metrics.json", "history.csv", "summary.txt", "plots/accuracy.png",
                     "plots/loss.png", "plots/confusion.png", "checkpoints/best.ckpt"):
            assert (folder / name).is_file(), f"{variant['name']}: {name} missing"
        history = pd.read_csv(folder / "history.csv")
        assert list(history.columns) == ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"]
        assert 1 <= len(history) <= 3 and history.notna().all().all()
    html = (demo_run / "report.html").read_text()
    assert "data:image/png;base64," in html and "+l2+dropout" in html
    # one row per variant in the technique-impact table, with that variant's own test accuracy
    rows = {line.split(" | ")[0].lstrip("| "): line for line in (demo_run / "report.md").read_text().splitlines()
            if line.startswith("| +") or line.startswith("| base |")}
    for variant in study["variants"]:
        accuracy = json.loads((demo_run / variant["folder"] / "metrics.json").read_text())["test"]["accuracy"]
        name = variant["name"].replace("_", "\\_")  # Markdown-escaped, as the report writes it
        assert f"| {100 * accuracy:.2f}% |" in rows[name], name


def test_every_run_writes_its_test_predictions_and_galleries(demo_run: Path) -> None:
    study = json.loads((demo_run / "study.json").read_text())
    test_count = sum(study["data"]["counts"]["test"].values())
    assert (demo_run / "plots" / "samples.png").is_file()
    for variant in study["variants"]:
        folder = demo_run / variant["folder"]
        metrics = json.loads((folder / "metrics.json").read_text())
        predictions = pd.read_csv(folder / "predictions.csv", dtype={"true": str, "predicted": str})
        columns = ["index", "id", "true", "predicted", *(f"p_{c}" for c in metrics["classes"])]
        assert list(predictions.columns) == columns
        assert len(predictions) == test_count and predictions["index"].tolist() == list(range(test_count))
        assert predictions["id"].str.startswith("load_digits row ").all()
        probabilities = predictions[[f"p_{c}" for c in metrics["classes"]]].to_numpy()
        assert probabilities.sum(axis=1) == pytest.approx([1.0] * test_count, abs=1e-5)
        # the file agrees with the torchmetrics scores: accuracy, and the confusion matrix cell by cell
        assert (predictions["true"] == predictions["predicted"]).mean() == pytest.approx(metrics["test"]["accuracy"])
        matrix = pd.crosstab(predictions["true"], predictions["predicted"]).reindex(
            index=metrics["classes"], columns=metrics["classes"], fill_value=0)
        assert matrix.to_numpy().tolist() == metrics["test"]["confusion_matrix"]
        assert (folder / "plots" / "misclassified.png").is_file()
    markdown = (demo_run / "report.md").read_text()
    assert "## Misclassified test examples" in markdown
    assert "![training images per class](plots/samples.png)" in markdown


def test_demo_study_reports_its_baselines(demo_run: Path) -> None:
    baselines = json.loads((demo_run / "baselines.json").read_text())["baselines"]
    assert [row["name"] for row in baselines] == ["majority", "logistic"]
    assert baselines[0]["test"]["accuracy"] < 0.2 < 0.85 < baselines[1]["test"]["accuracy"]
    markdown = (demo_run / "report.md").read_text()
    assert "## Baselines" in markdown and "against the best baseline (logistic" in markdown


def test_demo_study_learns_far_beyond_chance(demo_run: Path) -> None:
    for metrics_file in demo_run.glob("*/metrics.json"):
        metrics = json.loads(metrics_file.read_text())
        test = metrics["test"]
        assert test["accuracy"] > 0.5, metrics_file  # chance is 0.10 for ten digits
        matrix = test["confusion_matrix"]
        assert len(matrix) == 10 and sum(map(sum, matrix)) == sum(c["support"] for c in test["per_class"].values())
        # the torchmetrics scores agree with the confusion matrix they were computed beside
        assert test["accuracy"] == pytest.approx(sum(matrix[i][i] for i in range(10)) / sum(map(sum, matrix)))
        f1 = []
        for i, name in enumerate(metrics["classes"]):
            predicted, actual = sum(row[i] for row in matrix), sum(matrix[i])
            precision = matrix[i][i] / predicted if predicted else 0.0
            recall = matrix[i][i] / actual
            f1.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
            assert test["per_class"][name]["recall"] == pytest.approx(recall, abs=1e-6)
        assert test["f1_macro"] == pytest.approx(sum(f1) / 10, abs=1e-6)
        assert metrics["train_images_per_s"] > 0 and metrics["params"] > 0


def test_the_base_variant_has_no_regularization_and_the_last_has_all(demo_run: Path) -> None:
    base = load_recipe(demo_run / "base" / "config.yaml").regularization
    last = load_recipe(demo_run / "plus-l2-dropout-early_stopping-augmentation" / "config.yaml").regularization
    assert base.weight_decay == 0.0 and base.dropout == 0.0 and base.augmentation is None
    assert last.weight_decay > 0 and last.dropout > 0 and last.early_stopping and last.augmentation


def test_same_seed_gives_identical_metrics_on_cpu(tmp_path: Path) -> None:
    runs = [_run(tmp_path / str(i), "digits-demo", "study.mode=single", "training.epochs=2") for i in range(2)]
    first, second = (json.loads((run / "base" / "metrics.json").read_text()) for run in runs)
    for split in ("train", "val", "test"):
        assert first[split] == second[split]
    assert (runs[0] / "base" / "history.csv").read_text() == (runs[1] / "base" / "history.csv").read_text()


def test_resume_skips_finished_variants(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, "digits-demo", "study.mode=single", "training.epochs=1")
    metrics_file = run_dir / "base" / "metrics.json"
    stamp = metrics_file.stat().st_mtime_ns
    # A recipe.yaml written by an older trainlab still resumes: it lacks study.repeats (the default applies) and
    # holds the retired, never-used study.seeds.
    saved = run_dir / "recipe.yaml"
    text = saved.read_text()
    assert "  repeats: 1\n" in text
    saved.write_text(text.replace("  repeats: 1\n", "  seeds:\n  - 0\n"))
    # Settings that cannot change results (the progress bar, workers, folders) may differ on resume.
    resumed = _run(tmp_path, "digits-demo", "study.mode=single", "training.epochs=1", "training.progress_bar=true",
                   f"output.cache_dir={tmp_path / 'other-cache'}", resume=run_dir)
    assert resumed == run_dir and metrics_file.stat().st_mtime_ns == stamp
    with pytest.raises(TrainlabError, match=r"differs .*\(training\.epochs: 1 then, 2 now\)"):
        _run(tmp_path, "digits-demo", "study.mode=single", "training.epochs=2", resume=run_dir)


@pytest.mark.parametrize("technique", ["{data.image_size: 48}", "{seed: 7}", "{study.repeats: 4}"])
def test_a_technique_outside_model_training_regularization_is_refused_before_any_folder(
        tmp_path: Path, technique: str) -> None:
    with pytest.raises(TrainlabError, match=r"technique 'bigger' sets .*; a technique may only change model\.\*"):
        _run(tmp_path, "digits-demo", f"study.techniques.bigger={technique}")
    assert not (tmp_path / "runs").exists()


def test_real_course_images_train_beyond_chance(cnn_dataset_dir: Path, tmp_path: Path) -> None:
    run_dir = _run(tmp_path, "vgg13-ablation", f"data.path={cnn_dataset_dir}", "data.max_per_class=150",
                   "data.image_size=32", "model.width=0.125", "model.options.batch_norm=true",
                   "model.options.hidden=[512, 512]", "training.lr=0.003", "training.epochs=4", "study.mode=single",
                   "study.repeats=1")
    metrics = json.loads((run_dir / "base" / "metrics.json").read_text())
    assert metrics["classes"] == ["dogs", "food", "vehicles"]
    test_counts = json.loads((run_dir / "study.json").read_text())["data"]["counts"]["test"]
    assert test_counts == {name: c["support"] for name, c in metrics["test"]["per_class"].items()}
    assert sum(test_counts.values()) in (67, 68)  # 15% of 450, stratified
    assert metrics["test"]["accuracy"] > 0.45  # chance is 1/3



def test_early_stopping_stops_and_evaluates_the_restored_best_epoch(tmp_path: Path) -> None:
    """A high learning rate makes validation loss rise after its best epoch (deterministic on the CPU)."""
    run_dir = _run(tmp_path, "digits-demo", "training.epochs=6", "training.lr=0.02", "training.scheduler=none",
                   "study.mode=single", "regularization.early_stopping={patience: 2}")
    metrics = json.loads((run_dir / "base" / "metrics.json").read_text())
    history = pd.read_csv(run_dir / "base" / "history.csv")
    val_losses = history["val_loss"]
    assert history["epoch"].tolist() == list(range(1, len(history) + 1))  # epochs count from 1, as people count
    assert metrics["best_epoch"] == int(val_losses.idxmin()) + 1 < len(val_losses)  # the best is not the last
    assert metrics["stopped_early"] and metrics["epochs_run"] == metrics["best_epoch"] + 2  # patience 2
    assert metrics["val"]["loss"] == pytest.approx(val_losses.min(), rel=1e-5)  # evaluated on restored weights
    assert metrics["val"]["loss"] < val_losses.iloc[-1]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.options.bogus=1", "has no option 'bogus'"),
        ("study.techniques.odd={model.options.bogus: 1}", "has no option 'bogus'"),
        ("training.strategy=bogus", "training.strategy='bogus' is not a Lightning strategy"),
        ("training.strategy=fsdp", "rejected by Lightning"),
        ("training.precision=16-mixed", "'16-mixed' needs CUDA"),
        ("study.techniques.half={training.precision: 16-mixed}", "'16-mixed' needs CUDA"),
        ("study.baselines=[majority, knn]",
         "study.baselines: unknown baseline 'knn' for task 'classification'; known: logistic, majority"),
    ],
)
def test_model_and_trainer_mistakes_fail_before_any_run_folder(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(TrainlabError, match=re.escape(message)):
        _run(tmp_path, "digits-demo", "study.mode=cumulative", override)
    assert not (tmp_path / "runs").exists()


def test_repeated_seeds_give_paired_intervals_in_the_report(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, "digits-demo", "study.mode=one_at_a_time", "study.repeats=3", "training.epochs=1",
                   "study.techniques={l2: {regularization.weight_decay: 0.0005}}")
    study = json.loads((run_dir / "study.json").read_text())
    assert study["seeds"] == [0, 1, 2]
    assert [r["folder"] for r in study["variants"][1]["runs"]] == ["plus-l2/seed-0", "plus-l2/seed-1", "plus-l2/seed-2"]
    accuracies = {}
    for variant in ("base", "plus-l2"):
        for seed in (0, 1, 2):
            metrics = json.loads((run_dir / variant / f"seed-{seed}" / "metrics.json").read_text())
            assert metrics["seed"] == seed
            accuracies[variant, seed] = metrics["test"]["accuracy"]
    assert len({accuracies["base", seed] for seed in (0, 1, 2)}) > 1  # the seeds really differ

    base, l2 = load_run(run_dir)["variants"]
    assert base["test_accuracy"] == pytest.approx(sum(accuracies["base", s] for s in (0, 1, 2)) / 3)
    interval = l2["delta_interval"]
    diffs = [100 * (accuracies["plus-l2", s] - accuracies["base", s]) for s in (0, 1, 2)]
    assert interval["n"] == 3 and interval["mean"] == pytest.approx(sum(diffs) / 3)
    assert interval["low"] < interval["mean"] < interval["high"]
    assert base["test_accuracy_interval"]["low"] < base["test_accuracy"] < base["test_accuracy_interval"]["high"]
    markdown = (run_dir / "report.md").read_text()
    assert "## Seed variation" in markdown and "| plus-l2/seed-0" not in markdown
    assert "3/3" in markdown and ("within seed noise" in markdown or "than base" in markdown)
    assert "| 1 (1) | 0/3 |" in markdown  # epochs run (best epoch), seeds that stopped early

    # A study stopped part-way: Δ stays paired, over the seeds both variants have finished.
    for missing in ("plus-l2/seed-1", "plus-l2/seed-2", "base/seed-1"):
        (run_dir / missing / "metrics.json").unlink()
    base, l2 = load_run(run_dir)["variants"]
    assert l2["delta_pp"] == pytest.approx(100 * (accuracies["plus-l2", 0] - accuracies["base", 0]), abs=0.006)
    assert l2["delta_interval"] is None and len(l2["replicates"]) == 1 and len(base["replicates"]) == 2
    assert 0.0 <= base["test_accuracy_interval"]["low"] <= base["test_accuracy_interval"]["high"] <= 1.0


def test_each_variant_runs_with_its_own_runtime(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, "digits-demo", "study.mode=one_at_a_time", "training.epochs=1",
                   "study.techniques={cl: {training.channels_last: true}}")
    base = json.loads((run_dir / "base" / "metrics.json").read_text())
    channels_last = json.loads((run_dir / "plus-cl" / "metrics.json").read_text())
    assert base["runtime"]["channels_last"] is False and channels_last["runtime"]["channels_last"] is True


def test_resume_of_a_corrupt_run_folder_is_one_clear_error(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "recipe.yaml").write_text(load_recipe("digits-demo", FAST).to_yaml())
    (run_dir / "study.json").write_text("{oops")
    with pytest.raises(TrainlabError, match=r"study\.json is not readable JSON"):
        run_study(load_recipe("digits-demo", FAST), resume=run_dir, notify=_quiet)
    (run_dir / "recipe.yaml").write_bytes(b"name: digits-demo\ndescription: caf\xe9\n")
    with pytest.raises(TrainlabError, match=r"cannot resume .*: its recipe no longer validates \(recipe file "
                                            r".*recipe\.yaml is not UTF-8 text: byte 0xe9 on line 2"):
        run_study(load_recipe("digits-demo", FAST), resume=run_dir, notify=_quiet)


def test_resident_gpu_data_with_workers_fails_before_any_run_folder(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """On CUDA, in-memory data lives on the GPU, where DataLoader workers cannot reach it."""
    gpu = Runtime(accelerator="gpu", precision="bf16-mixed", channels_last=True, deterministic=False,
                  device_name="cuda: pretend")
    monkeypatch.setattr(study_module, "resolve_runtime", lambda training: gpu)
    monkeypatch.setattr(study_module, "check_training_settings", lambda recipe, runtime: None)  # no CUDA here
    with pytest.raises(TrainlabError, match=r"training\.num_workers must be 0 when in-memory data lives on the GPU"):
        _run(tmp_path, "digits-demo", "training.num_workers=2")
    assert not (tmp_path / "runs").exists()



def test_lightning_settings_are_checked_before_the_data_is_loaded(tmp_path: Path) -> None:
    """A typo in training.* must not wait for a large dataset to decode (here the data path does not even exist)."""
    lines: list[str] = []
    recipe = load_recipe("vgg13-ablation", [*FAST, f"data.path={tmp_path / 'nowhere'}", "training.strategy=bogus",
                                            f"output.dir={tmp_path / 'runs'}"])
    with pytest.raises(TrainlabError, match="not a Lightning strategy"):
        run_study(recipe, notify=lines.append)
    assert lines == [] and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("key", ["output.dir", "output.cache_dir"])
def test_an_output_folder_under_a_file_fails_before_the_data_is_loaded(tmp_path: Path, key: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("not a folder")

    def no_data(*args: object, **kwargs: object) -> None:
        raise AssertionError("the data was loaded before the output folders were checked")

    monkeypatch.setattr(study_module, "build_dataset", no_data)
    with pytest.raises(TrainlabError, match=rf"{re.escape(key)} .*file/sub lies under .*file, which is a file"):
        _run(tmp_path, "digits-demo", f"{key}={tmp_path / 'file' / 'sub'}")
