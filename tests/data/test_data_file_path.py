"""data.in_memory=false: FileSplits read by DataLoader workers, checked against the in-memory path."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch.utilities.data import _update_dataloader
from PIL import Image
from torch.utils.data import DataLoader, DistributedSampler

from trainlab.config import DataConfig, load_recipe
from trainlab.data import DataBundle, FileSplit, TensorSplit, build_dataset, image_cache, image_folder, make_loader
from trainlab.data.bundle import stats_sample
from trainlab.data.loader import ImageFileDataset
from trainlab.errors import TrainlabError
from trainlab.train.study import run_study


def config(path: Path, in_memory: bool | str, **kwargs: object) -> DataConfig:
    return DataConfig(source="image_folder", path=path, image_size=kwargs.pop("image_size", 16), in_memory=in_memory,
                      **kwargs)


def both(root: Path, tmp_path: Path, **kwargs: object) -> tuple[DataBundle, DataBundle]:
    """(in memory, from files) bundles of the same folder and settings."""
    memory = build_dataset(config(root, True, **kwargs), tmp_path / "cache_memory")
    files = build_dataset(config(root, False, **kwargs), tmp_path / "cache_files")
    return memory, files


def whole_split(split: TensorSplit | FileSplit, **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = next(iter(make_loader(split, batch_size=max(1, len(split)), shuffle=False, seed=0, **kwargs)))
    return images, labels


def numbered_files(root: Path) -> FileSplit:
    """Every readable tiny-folder image with label = its index, so a batch tells which files it holds."""
    paths = tuple(sorted(p for p in root.rglob("img_*")))
    return FileSplit(paths, torch.arange(len(paths)), channels=3, image_size=16)


def test_file_path_matches_the_in_memory_path(tiny_folder: Path, tmp_path: Path) -> None:
    memory, files = both(tiny_folder, tmp_path)
    assert memory.in_memory and not files.in_memory
    assert all(isinstance(split, FileSplit) for split in files.splits().values())
    assert files.classes == memory.classes and files.counts() == memory.counts()
    assert files.image_shape == memory.image_shape == (3, 16, 16)
    assert files.skipped == memory.skipped  # same paths and the same reasons
    assert {s.path for s in files.skipped} == {"cats/corrupt.jpg", "dogs/empty.png"}
    assert not (tmp_path / "cache_files" / "images").exists()  # no decode cache on the file path
    for name, split in files.splits().items():
        assert all(path.is_absolute() and path.is_file() for path in split.paths)
        images, labels = whole_split(split)
        assert images.dtype == torch.uint8 and labels.dtype == torch.int64
        assert torch.equal(images, memory.splits()[name].images), name  # identical pixels, same order
        assert torch.equal(labels, memory.splits()[name].labels), name
    summary = json.loads(json.dumps(files.summary()))
    assert summary["in_memory"] is False and summary["stats_sample"] == len(files.train)
    assert memory.summary()["in_memory"] is True


def test_split_folders_on_the_file_path(make_split_folder: object, tmp_path: Path) -> None:
    root = make_split_folder({"train": 12, "valid": 3})  # type: ignore[operator]
    memory, files = both(root, tmp_path)
    assert files.counts() == memory.counts() == {
        "train": {"a": 10, "b": 10}, "val": {"a": 2, "b": 2}, "test": {"a": 3, "b": 3},  # test: the valid/ folder
    }
    assert torch.equal(whole_split(files.test)[0], memory.test.images)


def test_file_path_decodes_each_file_once_then_remembers(
    tiny_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = image_cache.decode_image
    calls: list[Path] = []

    def spy(path: Path, channels: int, size: int) -> np.ndarray:
        calls.append(path)
        return real(path, channels, size)

    monkeypatch.setattr(image_cache, "decode_image", spy)
    cache = tmp_path / "cache"
    first = build_dataset(config(tiny_folder, False), cache)
    assert len(calls) == 37 == len(set(calls))  # 36 images + corrupt.jpg, once each; empty.png needs no decode
    assert len(list((cache / "checks").glob("*.json"))) == 1 and not (cache / "images").exists()
    calls.clear()
    second = build_dataset(config(tiny_folder, False), cache)
    assert calls == []  # the verdicts come from checks/<key>.json
    assert second.skipped == first.skipped and second.counts() == first.counts()
    build_dataset(config(tiny_folder, False, image_size=12), cache)  # other settings: another key, checked again
    assert len(calls) == 37 and len(list((cache / "checks").glob("*.json"))) == 2


def test_errors_are_shared_by_both_paths(tiny_folder: Path, tmp_path: Path) -> None:
    (tiny_folder / "fish").mkdir()
    (tiny_folder / "fish" / "bad.jpg").write_bytes(b"not a jpeg")
    for in_memory in (True, False):
        with pytest.raises(TrainlabError, match=r"empty class.*fish.*no readable images"):
            build_dataset(config(tiny_folder, in_memory), tmp_path / "cache")


def test_auto_follows_the_memory_estimate(tiny_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_dataset(config(tiny_folder, "auto"), tmp_path / "cache").in_memory  # 38 small images fit
    monkeypatch.setattr(image_folder, "estimated_bytes", lambda count, channels, size: 1 << 62)
    bundle = build_dataset(config(tiny_folder, "auto"), tmp_path / "cache")
    assert isinstance(bundle.train, FileSplit) and not bundle.in_memory
    assert build_dataset(config(tiny_folder, True), tmp_path / "cache").in_memory  # explicit true wins
    monkeypatch.setattr(image_folder, "physical_memory_bytes", lambda: None)
    assert build_dataset(config(tiny_folder, "auto"), tmp_path / "cache").in_memory  # unknown RAM: as before


def test_estimate_and_ram(monkeypatch: pytest.MonkeyPatch) -> None:
    assert image_folder.estimated_bytes(10, 3, 64) == 10 * 3 * 64 * 64
    ram = image_folder.physical_memory_bytes()
    assert ram is None or ram > 1 << 26
    monkeypatch.setattr(image_folder, "physical_memory_bytes", lambda: 4000)
    assert image_folder.decide_in_memory(DataConfig(image_size=10, channels=1), 9)  # 900 < 1000
    assert not image_folder.decide_in_memory(DataConfig(image_size=10, channels=1), 10)
    assert not image_folder.decide_in_memory(DataConfig(image_size=10, channels=1, in_memory=False), 1)


def test_workers_serve_every_sample_once_per_epoch(tiny_folder: Path) -> None:
    split = numbered_files(tiny_folder)
    loader = make_loader(split, batch_size=5, shuffle=True, seed=3, num_workers=2)
    assert type(loader) is DataLoader and isinstance(loader.dataset, ImageFileDataset)
    assert loader.persistent_workers and loader.num_workers == 2 and not loader.pin_memory
    orders = []
    for _ in range(2):
        seen = []
        for images, labels in loader:
            assert images.dtype == torch.uint8 and images.shape[1:] == (3, 16, 16)
            for image, label in zip(images, labels.tolist(), strict=True):
                assert torch.equal(image, split.read(label))
            seen += labels.tolist()
        assert sorted(seen) == list(range(len(split)))
        orders.append(seen)
    assert orders[0] != orders[1]  # reshuffled each epoch ...
    again = make_loader(split, batch_size=5, shuffle=True, seed=3)
    assert [int(v) for _, labels in again for v in labels] == orders[0]  # ... by the seed, whatever the workers


def test_file_loader_parts(tiny_folder: Path) -> None:
    split = numbered_files(tiny_folder)
    cuda = make_loader(split, batch_size=4, shuffle=False, seed=0, device="cuda", num_workers=2)
    assert cuda.pin_memory and cuda.num_workers == 2  # never moved up front, so workers are fine on CUDA
    loader = make_loader(split, batch_size=4, shuffle=True, seed=0)
    assert not loader.persistent_workers and len(loader) == (len(split) + 3) // 4
    shards = []
    for rank in range(2):  # what Lightning does under DDP: re-create the loader around a DistributedSampler
        sampler = DistributedSampler(loader.dataset, num_replicas=2, rank=rank, shuffle=True, seed=0)
        rebuilt = _update_dataloader(loader, sampler)
        assert isinstance(rebuilt.dataset, ImageFileDataset)
        shards.append([int(v) for _, labels in rebuilt for v in labels])
    assert set(shards[0] + shards[1]) == set(range(len(split))) and len(shards[0]) == len(shards[1])
    with pytest.raises(ValueError, match="labels"):
        FileSplit(split.paths, torch.arange(3), channels=3, image_size=16)


def test_channel_stats_from_files_match_memory(tiny_folder: Path, tmp_path: Path) -> None:
    memory, files = both(tiny_folder, tmp_path)
    assert files.stats_sample == len(files.train) == memory.stats_sample
    mean_m, std_m = memory.channel_stats()
    mean_f, std_f = files.channel_stats()
    assert mean_f == pytest.approx(mean_m, abs=1e-6) and std_f == pytest.approx(std_m, abs=1e-6)
    assert files.channel_stats() is files.channel_stats()  # computed once per bundle


def test_stats_sample_is_even_and_capped() -> None:
    assert stats_sample(7) == list(range(7))
    picked = stats_sample(10_000)
    assert len(picked) == 2000 and picked == sorted(set(picked)) and picked[0] == 0 and picked[-1] >= 9990
    assert np.all(np.diff(picked) == 5)
    assert stats_sample(5, limit=2) == [0, 2]


def truncated_jpeg(path: Path) -> Path:
    """The first half of a real JPEG: its header reads fine, its pixels do not."""
    noise = np.random.default_rng(5).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="JPEG", quality=95)
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) // 2])
    return path


def truncated_png(path: Path) -> Path:
    """A real PNG cut after its first data chunk starts: the header and size read fine, the pixels do not."""
    noise = np.random.default_rng(6).integers(0, 256, size=(64, 64), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_truncated_images_are_skipped_alike_before_training(make_split_folder: object, tmp_path: Path) -> None:
    """Both paths decide up front: a truncated file in val or test never reaches the end of a study."""
    root = make_split_folder({"train": 6, "val": 2, "test": 3})  # type: ignore[operator]
    truncated_jpeg(root / "test" / "a" / "cut.jpg")
    truncated_png(root / "val" / "b" / "cut.png")
    memory, files = both(root, tmp_path)
    assert files.skipped == memory.skipped  # the same paths and the same reasons
    assert [s.path for s in files.skipped] == ["test/a/cut.jpg", "val/b/cut.png"]
    assert all(s.reason.startswith("unreadable image: OSError: image file is truncated") for s in files.skipped)
    expected = {"train": {"a": 6, "b": 6}, "val": {"a": 2, "b": 2}, "test": {"a": 3, "b": 3}}
    assert files.counts() == memory.counts() == expected
    for name, split in files.splits().items():  # every file left on the file path decodes, to the same pixels
        assert torch.equal(whole_split(split)[0], memory.splits()[name].images), name


@pytest.mark.parametrize("workers", [0, 1])
def test_a_file_damaged_after_the_scan_is_named_when_loaded(tiny_folder: Path, tmp_path: Path, workers: int) -> None:
    files = build_dataset(config(tiny_folder, False), tmp_path / "cache")
    victim = truncated_jpeg(files.test.paths[0])  # replaced after the check: the loader still names it
    loader = make_loader(files.test, batch_size=4, shuffle=False, seed=0, num_workers=workers)
    with pytest.raises(TrainlabError, match=rf"cannot decode image {victim}.*it has changed since") as caught:
        list(loader)
    assert "\n" not in str(caught.value)  # one line, also when a worker process raised it


def test_study_runs_from_files(tiny_folder: Path, tmp_path: Path) -> None:
    recipe = load_recipe("vgg13-ablation", [
        f"data.path={tiny_folder}", "data.in_memory=false", "data.image_size=32", "training.num_workers=1",
        "study.mode=single", "study.repeats=1", "training.epochs=1", "training.batch_size=16",
        "training.progress_bar=false",
        "model.width=0.125", "model.options.hidden=[32, 32]",
        f"output.dir={tmp_path / 'runs'}", f"output.cache_dir={tmp_path / 'cache'}",
    ])
    run_dir = run_study(recipe, notify=lambda _: None)
    metrics = json.loads((run_dir / "base" / "metrics.json").read_text())
    assert metrics["classes"] == ["birds", "cats", "dogs"] and metrics["epochs_run"] == 1
    data = json.loads((run_dir / "study.json").read_text())["data"]
    assert data["in_memory"] is False and data["stats_sample"] == 26
    assert sum(data["counts"]["test"].values()) == sum(c["support"] for c in metrics["test"]["per_class"].values())
    assert not (tmp_path / "cache" / "images").exists()


def test_course_images_from_files(cnn_dataset_dir: Path, tmp_path: Path) -> None:
    memory, files = both(cnn_dataset_dir, tmp_path, image_size=64, max_per_class=50)
    assert files.classes == ["dogs", "food", "vehicles"] and files.skipped == []
    assert [len(split) for split in files.splits().values()] == [106, 22, 22]  # round(0.15 * 150) = 22
    assert files.counts() == memory.counts()
    images, labels = whole_split(files.test, num_workers=2)
    assert images.shape == (22, 3, 64, 64) and images.dtype == torch.uint8
    assert torch.equal(images, memory.test.images) and torch.equal(labels, memory.test.labels)
    mean, std = files.channel_stats()
    assert mean == pytest.approx(memory.channel_stats()[0], abs=1e-6)
    assert all(0.2 < m < 0.8 for m in mean) and all(0.1 < s < 0.5 for s in std)


def test_baseline_features_are_the_same_from_files(tiny_folder: Path, tmp_path: Path) -> None:
    from trainlab.train.baselines import pixel_features

    memory, files = both(tiny_folder, tmp_path)
    from_memory, labels_memory = pixel_features(memory.train)
    from_files, labels_files = pixel_features(files.train)
    assert np.array_equal(labels_memory, labels_files) and np.allclose(from_memory, from_files)
