"""``trainlab bench``: correctness only (it runs, its JSON and table hold what they promise, bad input is one line).
Speed is never asserted: it depends on the machine and on what else runs on it."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from trainlab.bench.run import BenchOptions, bench_bundle, run_bench
from trainlab.bench.ways import WAYS, Way
from trainlab.cli import app
from trainlab.config import DataConfig
from trainlab.data import build_dataset

TINY = ["--steps", "2", "--pairs", "1", "--width", "0.125", "--image-size", "32", "--batch-size", "16",
        "--set", "training.accelerator=cpu"]


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder with an empty temporary directory, to see that the bench leaves nothing behind."""
    monkeypatch.chdir(tmp_path)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return tmp_path


def test_bench_json_on_cpu(scratch: Path) -> None:
    result = CliRunner().invoke(app, ["bench", *TINY, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["ways"]) == {"course", "plain", "trainer"}
    for way in report["ways"].values():
        assert way["samples_per_s"] > 0 and len(way["runs"]) == 1
        assert way["peak_memory_mb"] is None  # the CPU: one process-wide figure instead
    assert set(report["ratios"]) >= {"trainer_vs_plain", "plain_vs_course", "trainer_vs_course"}
    assert all(ratio > 0 for ratio in report["ratios"].values())
    assert report["device"].startswith("cpu") and report["accelerator"] == "cpu"
    assert report["peak_memory"]["process_max_rss_mb"] > 0 and "RSS" in report["peak_memory"]["measure"]
    assert report["model"] == "vgg13" and report["image_shape"] == [1, 32, 32] and report["batch_size"] == 16
    assert report["steps"] == 2 and report["pairs"] == 1 and report["versions"]["torch"] == torch.__version__
    assert sorted(path.name for path in scratch.iterdir()) == ["tmp"]  # no runs/ folder
    assert not list((scratch / "tmp").glob("trainlab-bench-*"))  # the trainer's run folder was removed


def test_bench_table_shows_the_three_ways(scratch: Path) -> None:
    result = CliRunner().invoke(app, ["bench", *TINY, "--model", "resnet18"])
    assert result.exit_code == 0, result.output
    for label in ("course-style", "plain optimized", "trainer", "samples/s", "× plain", "peak memory"):
        assert label in result.stdout
    assert "device: cpu" in result.stdout and "medians of per-round ratios: trainer/plain" in result.stdout
    assert "process max RSS" in result.stdout
    assert result.stderr.count("round 1/1:") == 3  # progress on stderr, one line per measurement


@pytest.mark.parametrize(("args", "message"), [
    (["--steps", "0"], "--steps must be a positive integer"),
    (["--pairs", "0"], "--pairs must be a positive integer"),
    (["--model", "nope"], "unknown model 'nope'; image models: "),
    (["--model", "lstm"], "bench/bench_text.py and bench/bench_forecast.py"),
    (["--data", "no/such/folder"], "does not exist"),
    (["--set", "bogus.key=1"], "unknown key 'bogus'"),
])
def test_bad_input_is_one_line(scratch: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["bench", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_train_split_is_steps_times_batch() -> None:
    bundle = build_dataset(DataConfig(source="digits", image_size=8, channels=1), Path("unused"))
    small = bench_bundle(bundle, steps=50, batch_size=64)  # 3,200 > the train digits: repeated
    assert len(small.train) == 3200 and torch.equal(small.train.images[:10], bundle.train.images[:10])
    assert torch.equal(small.train.images[len(bundle.train)], bundle.train.images[0])
    assert len(small.val) == 64 and len(small.test) == 64  # one batch each, spread over the split
    step = len(bundle.test) / 64
    assert small.test.ids == tuple(bundle.test.ids[int(i * step)] for i in range(64))


def test_rounds_run_in_abba_order_and_ratios_are_medians(scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    speeds = {"course": iter([100.0, 100.0, 50.0]), "plain": iter([200.0, 400.0, 400.0]),
              "trainer": iter([180.0, 200.0, 360.0])}
    for name, way in WAYS.items():
        def fake(setup: object, name: str = name) -> float:
            calls.append(name)
            return next(speeds[name])
        monkeypatch.setitem(WAYS, name, Way(way.label, way.description, fake))
    options = BenchOptions(steps=1, pairs=3, width=0.125, image_size=32, overrides={"training.accelerator": "cpu"})
    result = run_bench(options)
    assert calls == ["course", "plain", "trainer", "trainer", "plain", "course", "course", "plain", "trainer"]
    assert result.ratio("trainer", "plain") == pytest.approx(0.9)  # rounds: 0.9, 0.5, 0.9
    assert result.ratio("plain", "course") == pytest.approx(4.0)  # rounds: 2, 4, 8
    assert result.samples_per_s("plain") == 400.0
    assert json.loads(json.dumps(result.to_dict()))["ratios"]["trainer_vs_course"] == pytest.approx(2.0)  # 1.8, 2, 7.2
