"""The image_folder dataset: layouts, bad files, user errors and the decode cache."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from trainlab.config import DataConfig
from trainlab.data import DATASETS, build_dataset, dataset_names, image_cache, image_folder
from trainlab.errors import TrainlabError
from trainlab.io import atomic_write_bytes


def _mkdirs(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def config(path: Path | None, **kwargs: object) -> DataConfig:
    return DataConfig(source="image_folder", path=path, image_size=kwargs.pop("image_size", 16), **kwargs)


def test_tiny_folder_counts_shapes_and_skipped(tiny_folder: Path, tmp_path: Path, images: SimpleNamespace) -> None:
    bundle = build_dataset(config(tiny_folder), tmp_path / "cache")
    assert bundle.classes == list(images.classes)
    counts = bundle.counts()
    totals = {split: sum(per_class.values()) for split, per_class in counts.items()}
    assert totals == {"train": 26, "val": 5, "test": 5}  # 36 readable images at 70/15/15
    for name in images.classes:
        assert sum(counts[split][name] for split in counts) == images.per_class
        assert all(counts[split][name] >= 1 for split in counts)
    for split in bundle.splits().values():
        assert split.images.dtype == torch.uint8 and split.images.shape[1:] == (3, 16, 16)
        assert split.labels.dtype == torch.int64
    assert bundle.image_shape == (3, 16, 16)
    skipped = {item.path: item.reason for item in bundle.skipped}
    assert set(skipped) == {"cats/corrupt.jpg", "dogs/empty.png"}
    assert "unreadable" in skipped["cats/corrupt.jpg"]
    assert "empty" in skipped["dogs/empty.png"]
    summary = bundle.summary()
    json.dumps(summary)
    assert summary["source"].endswith(str(tiny_folder))
    assert len(summary["mean"]) == 3 and all(0 < v < 1 for v in summary["mean"])


def test_grayscale_and_max_per_class(tiny_folder: Path, tmp_path: Path) -> None:
    bundle = build_dataset(config(tiny_folder, channels=1, image_size=8, max_per_class=10), tmp_path / "cache")
    assert bundle.image_shape == (1, 8, 8)
    assert sum(len(split) for split in bundle.splits().values()) == 3 * 10 - 2
    # the first 10 files in sorted order: corrupt.jpg and empty.png sort before img_*, so both are among them
    assert [item.path for item in bundle.skipped] == ["cats/corrupt.jpg", "dogs/empty.png"]


def test_split_is_reproducible_and_seed_dependent(tiny_folder: Path, tmp_path: Path) -> None:
    first = build_dataset(config(tiny_folder), tmp_path / "cache")
    again = build_dataset(config(tiny_folder), tmp_path / "cache")
    other = build_dataset(config(tiny_folder, split_seed=1), tmp_path / "cache")
    assert torch.equal(first.test.images, again.test.images)
    assert not torch.equal(first.test.images, other.test.images)


def test_resize_keeps_content(tmp_path: Path) -> None:
    root = tmp_path / "solid"
    for name, color in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        for i in range(7):
            (root / name).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (10 + i, 30), color).save(root / name / f"{i}.png")
    bundle = build_dataset(config(root, image_size=12), tmp_path / "cache")
    red = bundle.classes.index("red")
    images = bundle.train.images[bundle.train.labels == red]
    assert images[:, 0].min() == 255 and images[:, 1:].max() == 0


def test_given_train_val_test_folders_are_respected(make_split_folder: Callable, tmp_path: Path) -> None:
    root = make_split_folder({"train": 6, "val": 2, "test": 3})
    bundle = build_dataset(config(root), tmp_path / "cache")
    assert bundle.classes == ["a", "b"]
    assert bundle.counts() == {
        "train": {"a": 6, "b": 6},
        "val": {"a": 2, "b": 2},
        "test": {"a": 3, "b": 3},
    }


def test_a_val_folder_without_test_folder_is_the_held_out_set(make_split_folder: Callable, tmp_path: Path) -> None:
    root = make_split_folder({"train": 12, "valid": 3})
    bundle = build_dataset(config(root), tmp_path / "cache")
    # test is the valid/ folder; val takes 0.15 / (0.70 + 0.15) of the 24 train images: round(4.24) = 4, 2 + 2
    assert bundle.counts() == {"train": {"a": 10, "b": 10}, "val": {"a": 2, "b": 2}, "test": {"a": 3, "b": 3}}
    assert all(Path(name).parts[0] == "valid" for name in bundle.test.ids)
    assert bundle.split_note.startswith("test = the valid/ folder, held out (there is no test folder); val = 18% of "
                                        "the train/ folder, stratified")


def test_missing_val_folder_is_carved_from_train(make_split_folder: Callable, tmp_path: Path) -> None:
    root = make_split_folder({"train": 12, "test": 3})
    bundle = build_dataset(config(root), tmp_path / "cache")
    assert bundle.counts() == {"train": {"a": 10, "b": 10}, "val": {"a": 2, "b": 2}, "test": {"a": 3, "b": 3}}
    assert bundle.split_note == "test = the test/ folder; val = 18% of the train/ folder, stratified; train = the rest"


def test_split_folders_with_different_classes_fail(
    make_split_folder: Callable, tmp_path: Path, images: SimpleNamespace
) -> None:
    root = make_split_folder({"train": 4, "val": 2})
    images.fill(root / "train" / "c", 4, 7)
    with pytest.raises(TrainlabError, match=r"same class folders.*missing \['c'\]"):
        build_dataset(config(root), tmp_path / "cache")


def test_empty_class_folder_is_named(tiny_folder: Path, tmp_path: Path) -> None:
    (tiny_folder / "fish").mkdir()
    (tiny_folder / "fish" / "readme.txt").write_text("nothing")
    with pytest.raises(TrainlabError, match=r"empty class.*fish"):
        build_dataset(config(tiny_folder), tmp_path / "cache")


def test_class_with_only_unreadable_images_is_named(tiny_folder: Path, tmp_path: Path) -> None:
    (tiny_folder / "fish").mkdir()
    (tiny_folder / "fish" / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(TrainlabError, match=r"empty class.*fish.*no readable images"):
        build_dataset(config(tiny_folder), tmp_path / "cache")


def test_no_class_folders(tmp_path: Path, images: SimpleNamespace) -> None:
    root = tmp_path / "flat"
    images.write(root / "a.jpg", (8, 8), 0)
    with pytest.raises(TrainlabError, match=rf"{root} has no class folders") as raised:
        build_dataset(config(root), tmp_path / "cache")
    assert "did you mean" not in str(raised.value)


def test_a_folder_holding_only_an_archive_points_at_it(tmp_path: Path) -> None:
    """As ../shared/data/cnn_dataset does: the folder holds cnn_dataset.tar.gz, not class folders."""
    root = tmp_path / "shipped"
    root.mkdir()
    (root / "cnn_dataset.tar.gz").write_bytes(b"")
    with pytest.raises(TrainlabError, match=r"did you mean --data .*shipped/cnn_dataset\.tar\.gz\?"):
        build_dataset(config(root), tmp_path / "cache")


def test_one_class_suggests_the_folder_inside(tiny_folder: Path, tmp_path: Path) -> None:
    parent = tiny_folder.parent
    with pytest.raises(TrainlabError, match=rf"only one class folder.*did you mean --data {tiny_folder}"):
        build_dataset(config(parent), tmp_path / "cache")


def test_class_too_small_for_the_split_is_named(tiny_folder: Path, tmp_path: Path, images: SimpleNamespace) -> None:
    images.write(tiny_folder / "fish" / "only.png", (8, 8), 1)
    with pytest.raises(TrainlabError, match=r"'fish'"):
        build_dataset(config(tiny_folder), tmp_path / "cache")


def test_missing_path_and_no_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(TrainlabError, match=rf"data path {missing} does not exist"):
        build_dataset(config(missing), tmp_path / "cache")
    with pytest.raises(TrainlabError, match="needs a path: pass --data PATH"):
        build_dataset(config(None), tmp_path / "cache")


def test_unknown_dataset_lists_known_ones(tmp_path: Path) -> None:
    assert {"digits", "image_folder"} <= set(dataset_names())
    with pytest.raises(TrainlabError, match=r"unknown dataset 'nope'.*digits.*image_folder"):
        build_dataset(DataConfig(source="nope"), tmp_path / "cache")


def test_second_build_is_served_from_the_cache(
    tiny_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = build_dataset(config(tiny_folder), cache)
    assert len(list((cache / "images").glob("*.pt"))) == 1
    calls: list[object] = []

    def spy(*args: object) -> None:
        calls.append(args)
        raise AssertionError("decode_image must not be called when the cache is warm")

    monkeypatch.setattr(image_cache, "decode_image", spy)
    second = build_dataset(config(tiny_folder), cache)
    assert calls == []
    for name, split in first.splits().items():
        assert torch.equal(split.images, second.splits()[name].images)
        assert torch.equal(split.labels, second.splits()[name].labels)
    assert [s.path for s in second.skipped] == [s.path for s in first.skipped]


def test_cache_key_follows_settings_and_files(tiny_folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    build_dataset(config(tiny_folder, image_size=16), cache)
    build_dataset(config(tiny_folder, image_size=20), cache)
    build_dataset(config(tiny_folder, image_size=16, channels=1), cache)
    assert len(list((cache / "images").glob("*.pt"))) == 3
    paths = ["birds/img_000.jpg", "cats/img_001.png"]
    key = image_cache.cache_key(tiny_folder, paths, 3, 16)
    assert key != image_cache.cache_key(tiny_folder, paths, 3, 20)
    assert key != image_cache.cache_key(tiny_folder, paths[:1], 3, 16)
    stat = (tiny_folder / paths[0]).stat()
    os.utime(tiny_folder / paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert key != image_cache.cache_key(tiny_folder, paths, 3, 16)


def test_damaged_cache_is_rebuilt(tiny_folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = build_dataset(config(tiny_folder), cache)
    (cache_file,) = (cache / "images").glob("*.pt")
    atomic_write_bytes(cache_file, b"garbage")
    second = build_dataset(config(tiny_folder), cache)
    assert torch.equal(first.train.images, second.train.images)
    assert cache_file.stat().st_size > 1000


def test_transparent_palette_gif_decodes(tmp_path: Path) -> None:
    root = tmp_path / "gifs"
    for name in ("x", "y"):
        (root / name).mkdir(parents=True)
        for i in range(7):
            image = Image.new("P", (9, 9), 1)
            image.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
            image.info["transparency"] = 0
            image.save(root / name / f"{i}.gif", transparency=0)
    bundle = build_dataset(config(root, image_size=9), tmp_path / "cache")
    assert bundle.skipped == []
    assert bundle.train.images[0, :, 4, 4].tolist() == [200, 100, 50]


@pytest.mark.parametrize("in_memory", [True, False])
def test_links_to_folders_are_not_followed(tiny_folder: Path, tmp_path: Path, in_memory: bool) -> None:
    os.symlink(".", tiny_folder / "dogs" / "loop")  # followed, this repeated every dog image without end
    os.symlink("../cats", tiny_folder / "dogs" / "cats_too")
    bundle = build_dataset(config(tiny_folder, in_memory=in_memory), tmp_path / "cache")
    counts = bundle.counts()
    assert {name: sum(counts[split][name] for split in counts) for name in bundle.classes} == {
        "birds": 12, "cats": 12, "dogs": 12,
    }
    skipped = {item.path: item.reason for item in bundle.skipped}
    assert sorted(skipped) == ["cats/corrupt.jpg", "dogs/cats_too", "dogs/empty.png", "dogs/loop"]
    assert skipped["dogs/loop"] == skipped["dogs/cats_too"] == image_folder.LINKED_FOLDER
    assert "link to a folder, not followed" in image_folder.LINKED_FOLDER


@pytest.mark.parametrize("in_memory", [True, False])
def test_a_file_with_two_names_is_used_once(tiny_folder: Path, tmp_path: Path, in_memory: bool) -> None:
    os.symlink("../dogs/img_000.jpg", tiny_folder / "cats" / "a_dog.jpg")  # into another class
    os.symlink("img_001.png", tiny_folder / "birds" / "again.png")  # within the class
    os.symlink(tmp_path / "gone.jpg", tiny_folder / "birds" / "broken.jpg")
    outside = tmp_path / "elsewhere" / "fine.png"  # a link to a file outside the data is a normal image
    Image.new("RGB", (9, 9), (1, 2, 3)).save(_mkdirs(outside))
    os.symlink(outside, tiny_folder / "birds" / "linked.png")
    bundle = build_dataset(config(tiny_folder, in_memory=in_memory), tmp_path / "cache")
    counts = bundle.counts()
    assert {name: sum(counts[split][name] for split in counts) for name in bundle.classes} == {
        "birds": 13, "cats": 12, "dogs": 12,
    }
    skipped = {item.path: item.reason for item in bundle.skipped}
    assert sorted(skipped) == ["birds/again.png", "birds/broken.jpg", "cats/a_dog.jpg", "cats/corrupt.jpg",
                               "dogs/empty.png"]
    assert skipped["cats/a_dog.jpg"].startswith("the same file as dogs/img_000.jpg (another name for it")
    assert skipped["birds/again.png"].startswith("the same file as birds/img_001.png")
    assert skipped["birds/broken.jpg"] == f"broken link: its target {str(tmp_path / 'gone.jpg')!r} is missing"


def test_a_class_of_links_to_other_classes_is_named(tiny_folder: Path, tmp_path: Path) -> None:
    (tiny_folder / "fish").mkdir()
    for index in range(3):
        os.symlink(f"../dogs/img_00{index}.jpg" if index == 0 else f"../cats/img_00{index}.png",
                   tiny_folder / "fish" / f"{index}.jpg")
    with pytest.raises(TrainlabError, match=r"empty class: every image in folder .*fish is another name"):
        build_dataset(config(tiny_folder), tmp_path / "cache")


def test_the_path_check_lives_in_the_builder(tmp_path: Path) -> None:
    builder = DATASETS.get("image_folder")
    with pytest.raises(TrainlabError, match=r"^the image_folder dataset needs a path: pass --data PATH$"):
        builder(cfg=config(None), cache_dir=tmp_path / "cache")
