"""The run folder: one per run even when runs start together, the job id of a distributed launch, and the data check
that keeps a resumed study on the images it started with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
import torch
import yaml

import trainlab.io
from trainlab.artifacts import StudyRecord
from trainlab.config import load_recipe
from trainlab.data import DataBundle, TensorSplit
from trainlab.errors import TrainlabError
from trainlab.train.rundir import check_same_data, new_run_dir


class _Frozen(datetime):
    """Every run "starts" in the same second."""

    @classmethod
    def now(cls, tz: object = None) -> _Frozen:  # type: ignore[override]
        return cls(2026, 1, 2, 3, 4, 5)


def test_runs_started_in_the_same_second_get_a_folder_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TORCHELASTIC_RUN_ID", "WORLD_SIZE", "SLURM_NTASKS", "SLURM_JOB_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(trainlab.io, "datetime", _Frozen)  # the clock new_stamped_dir reads
    recipe = load_recipe("digits-demo", [f"output.dir={tmp_path}"])
    with ThreadPoolExecutor(max_workers=8) as pool:
        folders = list(pool.map(lambda _: new_run_dir(recipe), range(8)))
    assert len(set(folders)) == 8 and all(folder.is_dir() for folder in folders)
    assert sorted(folder.name for folder in folders) == sorted(
        ["20260102-030405", *(f"20260102-030405-{n}" for n in range(2, 9))])


def test_run_folder_uses_a_job_id_only_for_a_distributed_launch(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = load_recipe("digits-demo", [f"output.dir={tmp_path}"])
    for name in ("TORCHELASTIC_RUN_ID", "WORLD_SIZE", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    assert not new_run_dir(recipe).name.startswith("job-")  # one process in a batch job: a fresh timestamp
    monkeypatch.setenv("SLURM_NTASKS", "4")
    assert new_run_dir(recipe).name == "job-4242"  # srun's tasks share the job's folder
    assert new_run_dir(recipe).name == "job-4242"  # ... and a requeued job finds it again
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "abc")
    assert new_run_dir(recipe).name == "job-abc"


@pytest.mark.skipif(sys.platform != "linux", reason="process start-up timing is exercised on Linux")
def test_studies_started_together_write_one_folder_each(tmp_path: Path) -> None:
    """Four `trainlab run` processes started at once, each with its own lr: four folders, each self-consistent."""
    trainlab = Path(sys.executable).with_name("trainlab")
    rates = ["0.001", "0.002", "0.003", "0.004"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    common = ["run", "digits-demo", "--out", str(tmp_path / "runs"), "--set", f"output.cache_dir={tmp_path / 'c'}",
              "--set", "study.mode=single", "--set", "training.epochs=1", "--set", "data.max_per_class=20",
              "--set", "study.baselines=[]", "--set", "training.progress_bar=false"]
    processes = [subprocess.Popen([str(trainlab), *common, "--set", f"training.lr={lr}"], env=env, cwd=tmp_path,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for lr in rates]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, [err[-2000:] for _, err in outputs]
    folders = sorted((tmp_path / "runs" / "digits-demo").iterdir())
    assert len(folders) == 4
    seen = []
    for folder in folders:
        recipe_lr = yaml.safe_load((folder / "recipe.yaml").read_text())["training"]["lr"]
        variant_lr = yaml.safe_load((folder / "base" / "config.yaml").read_text())["training"]["lr"]
        history = (folder / "base" / "history.csv").read_text().splitlines()
        assert recipe_lr == variant_lr and len(history) == 2  # header + the one epoch, no rows of another run
        assert (folder / "report.html").is_file()
        seen.append(recipe_lr)
    assert sorted(seen) == sorted(float(rate) for rate in rates)


def _bundle(images: torch.Tensor, labels: list[int]) -> DataBundle:
    split = TensorSplit(images, torch.tensor(labels))
    return DataBundle(train=split, val=split, test=split, classes=["a", "b"])


def _record(bundle: DataBundle) -> StudyRecord:
    return StudyRecord.model_validate({"variants": [], "data": {"classes": bundle.classes,
                                                                "counts": bundle.counts(),
                                                                "fingerprint": bundle.fingerprint()}})


def test_a_resume_on_other_data_names_what_changed(tmp_path: Path) -> None:
    images = torch.arange(4 * 3 * 2 * 2, dtype=torch.uint8).view(4, 3, 2, 2)
    original = _bundle(images, [0, 0, 1, 1])
    record = _record(original)
    check_same_data(record, _bundle(images.clone(), [0, 0, 1, 1]), tmp_path)  # equal data: accepted
    with pytest.raises(TrainlabError, match=r"the data differs .*test: 4 images then, 3 now \(a 2 then, 1 now\)"):
        check_same_data(record, _bundle(images[1:], [0, 1, 1]), tmp_path)
    changed = images.clone()
    changed[0, 0, 0, 0] += 1
    with pytest.raises(TrainlabError, match="the same number of images per split and class, but not the same images"):
        check_same_data(record, _bundle(changed, [0, 0, 1, 1]), tmp_path)
    relabelled = DataBundle(train=original.train, val=original.val, test=original.test, classes=["a", "c"])
    with pytest.raises(TrainlabError, match=r"classes \['a', 'b'\] then, \['a', 'c'\] now"):
        check_same_data(record, relabelled, tmp_path)


def test_a_run_recorded_before_fingerprints_resumes_on_equal_counts(tmp_path: Path) -> None:
    images = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
    bundle = _bundle(images, [0, 0, 1, 1])
    old = StudyRecord.model_validate(json.loads(json.dumps(
        {"variants": [], "data": {"classes": ["a", "b"], "counts": bundle.counts()}})))
    check_same_data(old, _bundle(images + 1, [0, 0, 1, 1]), tmp_path)  # nothing to tell them apart but counts
