"""The ``image_folder`` dataset: class folders of images, from a folder or an archive, decoded once into a cache.

Two layouts are understood:

* ``root/<class>/<images>`` — split here, stratified, by ``data.split`` with ``data.split_seed``;
* ``root/train/<class>/...`` plus ``root/val|valid|validation/<class>/...`` and/or ``root/test/<class>/...`` — the
  given split is kept as is, with one exception: a ``val`` folder without a ``test`` folder is the held-out set (the
  test split; e.g. hymenoptera_data's ``train/`` + ``val/``), as in the papers and tutorials that publish numbers on
  it. A missing val split is then carved from train, stratified, taking ``val / (train + val)`` of it (a missing test
  split likewise takes ``test / (train + test)``). ``DataBundle.split_note`` says which folder became which split.

Images may sit in sub-folders of a class folder. Files that cannot be read are skipped and reported, not fatal. A
class folder (or split folder) may be a link; links to folders inside a class folder are not followed, and a file with
two names (a link to another image, in any class) is used once. Both are listed with the skipped files.

``data.in_memory`` picks how the images are served; scanning, the skipped-file report and the splits are shared:

* ``true`` — every image is decoded once into a uint8 tensor cache (``image_cache``) and batches are cut from memory;
* ``false`` — every file is decoded once up front to find the unreadable ones (skipped as above; the verdicts are
  cached, the pixels are not kept) and the splits are FileSplits that DataLoader workers decode batch by batch;
* ``"auto"`` — in memory when the decoded uint8 size (N·C·S·S bytes) is below a quarter of the physical RAM.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainlab.config import DataConfig
from trainlab.data.bundle import DataBundle, FileSplit, SkippedFile, Split, TensorSplit
from trainlab.data.image_cache import IMAGE_EXTENSIONS, check_files, load_or_decode
from trainlab.data.registry import DATASETS
from trainlab.data.sources import TAR_SUFFIXES, ZIP_SUFFIXES, resolve_source
from trainlab.data.splits import check_coverage, split_sizes, stratified_split, take_stratified
from trainlab.errors import TrainlabError
from trainlab.machine import physical_memory_bytes

LOG = logging.getLogger(__name__)
NEEDS_PATH = "the image_folder dataset needs a path: pass --data PATH"
SPLIT_FOLDERS = {"train": ("train",), "val": ("val", "valid", "validation"), "test": ("test",)}
EXTENSIONS_TEXT = ", ".join(sorted(IMAGE_EXTENSIONS))
LINKED_FOLDER = "a link to a folder, not followed (a linked folder can repeat images, or loop forever)"

# class name → sorted image paths relative to the data root
ClassFiles = dict[str, list[str]]


def _visible(name: str) -> bool:
    return not name.startswith(".") and name != "__MACOSX"


def _subfolders(folder: Path) -> list[Path]:
    return sorted(entry for entry in folder.iterdir() if entry.is_dir() and _visible(entry.name))


@dataclass(frozen=True)
class _Found:
    """An image file: its path relative to the data root, and the real path it names (shared by two names of a file)."""

    rel: str
    real: str
    is_link: bool


def _visit(entry: os.DirEntry[str], root: Path, pending: list[Path], found: list[_Found],
           skipped: list[SkippedFile]) -> None:
    """Sort one folder entry: a folder to walk, an image file, or an ignored link (added to ``skipped``)."""
    rel = Path(entry.path).relative_to(root).as_posix()
    if entry.is_dir(follow_symlinks=False):
        pending.append(Path(entry.path))
        return
    is_image = os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS
    if entry.is_symlink() and entry.is_dir():
        skipped.append(SkippedFile(path=rel, reason=LINKED_FOLDER))
    elif entry.is_symlink() and is_image and not os.path.exists(entry.path):
        skipped.append(SkippedFile(path=rel, reason=f"broken link: its target {os.readlink(entry.path)!r} is missing"))
    elif is_image:
        found.append(_Found(rel, os.path.realpath(entry.path), entry.is_symlink()))


def _image_files(folder: Path, root: Path, skipped: list[SkippedFile]) -> list[_Found]:
    """Image files under ``folder`` (recursively, hidden files and folders ignored), sorted by path.

    Links to folders are not followed (a link such as ``dogs/loop -> .`` would repeat every image); they, broken links
    and unreadable folders are added to ``skipped``. ``folder`` itself may be a link.
    """
    found: list[_Found] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as listing:
                for entry in listing:
                    if _visible(entry.name):
                        _visit(entry, root, pending, found, skipped)
        except OSError as error:
            rel = current.relative_to(root).as_posix()
            skipped.append(SkippedFile(path=rel, reason=f"unreadable folder: {error.strerror or error}"))
    return sorted(found, key=lambda item: item.rel)


def scan_classes(folder: Path, root: Path, skipped: list[SkippedFile]) -> dict[str, list[_Found]]:
    """Class folders of ``folder`` and their image files; raises for no class folders or only one."""
    class_dirs = _subfolders(folder)
    if not class_dirs:
        archives = sorted(p.name for p in folder.iterdir() if p.name.lower().endswith(ZIP_SUFFIXES + TAR_SUFFIXES))
        hint = f"; it holds the archive {archives[0]}: did you mean --data {folder / archives[0]}?" if archives else ""
        raise TrainlabError(
            f"{folder} has no class folders; expected one sub-folder per class holding its images "
            f"({EXTENSIONS_TEXT}), e.g. {folder}/dogs/1.jpg{hint}"
        )
    if len(class_dirs) < 2:
        (only,) = class_dirs
        hint = f"; did you mean --data {only}?" if _subfolders(only) else ""
        raise TrainlabError(f"{folder} has only one class folder ({only.name!r}); a classifier needs at least 2{hint}")
    return {class_dir.name: _image_files(class_dir, root, skipped) for class_dir in class_dirs}


def _dedupe(found: dict[str, dict[str, list[_Found]]], skipped: list[SkippedFile]) -> dict[str, ClassFiles]:
    """Every file once, across all classes and split folders: of two names for one file (a link to another image, in
    this class or another one), the one that is not a link is kept, else the first by path; the others are skipped."""
    keeper: dict[str, _Found] = {}
    every = (item for by_class in found.values() for items in by_class.values() for item in items)
    for item in sorted(every, key=lambda item: (item.is_link, item.rel)):
        kept = keeper.setdefault(item.real, item)
        if kept is not item:
            reason = f"the same file as {kept.rel} (another name for it, e.g. a link); each file is used once"
            skipped.append(SkippedFile(path=item.rel, reason=reason))
    return {
        group: {name: [item.rel for item in items if keeper[item.real] is item] for name, items in by_class.items()}
        for group, by_class in found.items()
    }


def _check_not_empty(found: dict[str, dict[str, list[_Found]]], groups: dict[str, ClassFiles],
                     folders: dict[str, Path], root: Path) -> None:
    for group, by_class in groups.items():
        for name, files in by_class.items():
            if files:
                continue
            class_dir = folders.get(group, root) / name
            if found[group][name]:
                raise TrainlabError(
                    f"empty class: every image in folder {class_dir} is another name (e.g. a link) for a file that "
                    "is used elsewhere; each file is used once"
                )
            raise TrainlabError(f"empty class: folder {class_dir} holds no image files ({EXTENSIONS_TEXT})")


def find_split_folders(root: Path) -> dict[str, Path] | None:
    """``{"train": ..., "val"/"test": ...}`` when ``root`` holds train plus val and/or test folders of classes."""
    by_name = {entry.name.lower(): entry for entry in _subfolders(root)}
    found: dict[str, Path] = {}
    for split, aliases in SPLIT_FOLDERS.items():
        match = next((by_name[alias] for alias in aliases if alias in by_name), None)
        if match is not None:
            found[split] = match
    if "train" not in found or len(found) < 2 or not all(_subfolders(folder) for folder in found.values()):
        return None
    return found


def _check_same_classes(groups: dict[str, ClassFiles], folders: dict[str, Path]) -> None:
    expected = sorted(groups["train"])
    for split, classes in groups.items():
        if sorted(classes) != expected:
            missing = sorted(set(expected) - set(classes))
            extra = sorted(set(classes) - set(expected))
            details = "; ".join(
                text
                for text in (f"missing {missing}" if missing else "", f"not in train: {extra}" if extra else "")
                if text
            )
            raise TrainlabError(
                f"{folders[split]} must hold the same class folders as {folders['train']} ({details}); "
                "a class with 0 images in some split cannot be evaluated"
            )


def estimated_bytes(count: int, channels: int, size: int) -> int:
    """The size of ``count`` images decoded to uint8 [channels, size, size]: what the in-memory path would hold."""
    return count * channels * size * size


def decide_in_memory(cfg: DataConfig, count: int) -> bool:
    """``data.in_memory`` resolved: "auto" is in memory when the decoded images fit in a quarter of the RAM."""
    if cfg.in_memory != "auto":
        return bool(cfg.in_memory)
    needed = estimated_bytes(count, cfg.channels, cfg.image_size)
    ram = physical_memory_bytes()
    in_memory = ram is None or needed < ram // 4
    LOG.info(
        "data.in_memory=auto: %d images need %.1f GiB decoded, RAM is %s; %s",
        count, needed / 2**30, f"{ram / 2**30:.1f} GiB" if ram else "unknown",
        "decoding them into memory" if in_memory else "reading files in DataLoader workers instead",
    )
    return in_memory


def _label_rows(
    groups: dict[str, ClassFiles], classes: list[str], usable: list[str], folders: dict[str, Path], root: Path
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Labels of every readable file (by its row in ``usable``), and the rows of each group.

    A class with no readable image is fatal.
    """
    row_of = {path: row for row, path in enumerate(usable)}
    labels = np.full(len(usable), -1, dtype=np.int64)
    rows: dict[str, np.ndarray] = {}
    for group, by_class in groups.items():
        group_rows: list[int] = []
        for label, name in enumerate(classes):
            readable = [row_of[path] for path in by_class[name] if path in row_of]
            if not readable:
                raise TrainlabError(
                    f"empty class: folder {folders.get(group, root) / name} has no readable images "
                    f"(all {len(by_class[name])} file(s) are unreadable)"
                )
            labels[readable] = label
            group_rows.extend(readable)
        rows[group] = np.array(sorted(group_rows), dtype=np.int64)
    return labels, rows


def _split_rows(
    rows: dict[str, np.ndarray], labels: np.ndarray, cfg: DataConfig, classes: list[str]
) -> dict[str, np.ndarray]:
    """train/val/test rows: a stratified split of ``rows["all"]``, or the given folders with missing ones carved."""
    fractions = cfg.split
    if "all" in rows:
        train, val, test = stratified_split(
            labels, val=fractions.val, test=fractions.test, seed=cfg.split_seed, classes=classes
        )
        return {"train": train, "val": val, "test": test}
    result = dict(rows)
    if "test" not in result:  # a val folder alone is the held-out set; validation is carved from train
        result["test"] = result.pop("val")
    for missing, fraction in (("val", fractions.val), ("test", fractions.test)):
        if missing not in result:
            share = fraction / (fractions.train + fraction)
            _, count, _ = split_sizes(len(result["train"]), share, 0.0)
            result["train"], result[missing] = take_stratified(
                result["train"], labels, count, cfg.split_seed, classes, missing
            )
    check_coverage(result, labels, classes)
    return result


def _scan(
    cfg: DataConfig, root: Path, skipped: list[SkippedFile]
) -> tuple[dict[str, ClassFiles], dict[str, Path], list[str]]:
    """The class files of every group ("all", or the split folders), the split folders, and the sorted classes.

    Ignored links and second names of a file are added to ``skipped``; ``data.max_per_class`` applies after that.
    """
    folders = find_split_folders(root) or {}
    places = folders or {"all": root}
    found = {group: scan_classes(folder, root, skipped) for group, folder in places.items()}
    groups = _dedupe(found, skipped)
    _check_not_empty(found, groups, folders, root)
    if folders:
        _check_same_classes(groups, folders)
    limit = cfg.max_per_class
    groups = {group: {name: files[:limit] if limit else files for name, files in by_class.items()}
              for group, by_class in groups.items()}
    return groups, folders, sorted(next(iter(groups.values())))


def split_note(cfg: DataConfig, folders: dict[str, Path]) -> str:
    """Where each split came from, in words, for the report."""
    if not folders:
        split = cfg.split
        return (f"a stratified {split.train:.0%} / {split.val:.0%} / {split.test:.0%} split of the class folders "
                f"(split seed {cfg.split_seed})")
    named = {group: f"the {folder.name}/ folder" for group, folder in folders.items()}
    carved = f"val = {cfg.split.val / (cfg.split.train + cfg.split.val):.0%} of {named['train']}, stratified"
    if "test" not in folders:
        return (f"test = {named['val']}, held out (there is no test folder); {carved}, for checkpoint selection and "
                "early stopping; train = the rest")
    if "val" not in folders:
        return f"test = {named['test']}; {carved}; train = the rest"
    return f"train, val and test = {named['train']}, {named['val']} and {named['test']}, as given"


@DATASETS.register("image_folder")
def build_image_folder(cfg: DataConfig, cache_dir: Path) -> DataBundle:
    """Scan, split and serve the image folder at ``cfg.path``: decoded in memory or as files (``data.in_memory``)."""
    if cfg.path is None:
        raise TrainlabError(NEEDS_PATH)
    root = resolve_source(Path(cfg.path), Path(cache_dir))
    skipped: list[SkippedFile] = []
    groups, folders, classes = _scan(cfg, root, skipped)
    rel_paths = [path for by_class in groups.values() for name in classes for path in by_class[name]]
    images: torch.Tensor | None = None
    if decide_in_memory(cfg, len(rel_paths)):
        decoded = load_or_decode(root, rel_paths, cfg.channels, cfg.image_size, Path(cache_dir))
        images, readable = decoded.images, decoded.paths
        skipped += decoded.skipped
    else:
        readable, unreadable = check_files(root, rel_paths, cfg.channels, cfg.image_size, Path(cache_dir))
        skipped += unreadable
    labels, rows = _label_rows(groups, classes, readable, folders, root)
    split_rows = _split_rows(rows, labels, cfg, classes)
    all_labels = torch.from_numpy(labels)

    def make_split(name: str) -> Split:
        index = torch.from_numpy(split_rows[name])
        split_labels = all_labels.index_select(0, index)
        ids = tuple(readable[row] for row in split_rows[name].tolist())
        if images is not None:
            return TensorSplit(images.index_select(0, index), split_labels, ids)
        return FileSplit(tuple(root / rel for rel in ids), split_labels, cfg.channels, cfg.image_size, ids)

    return DataBundle(
        train=make_split("train"),
        val=make_split("val"),
        test=make_split("test"),
        classes=classes,
        skipped=sorted(skipped, key=lambda item: item.path),
        source=f"image_folder:{cfg.path}",
        split_note=split_note(cfg, folders),
    )
