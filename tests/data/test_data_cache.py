"""The cache folder: what is in it, removing it, and refusing folders that are not a trainlab cache."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from trainlab.config import DataConfig
from trainlab.data import build_dataset
from trainlab.data.cache import clear_cache, describe_cache, format_entries, total_size
from trainlab.errors import TrainlabError


def filled_cache(tiny_folder: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A cache holding one extracted archive, one decoded image cache and one file check; (cache, archive)."""
    archive = tmp_path / "tiny.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(tiny_folder.rglob("*")):
            zf.write(path, path.relative_to(tiny_folder).as_posix())
    cache = tmp_path / "cache"
    build_dataset(DataConfig(source="image_folder", path=archive, image_size=8, in_memory=True), cache)
    build_dataset(DataConfig(source="image_folder", path=tiny_folder, image_size=8, in_memory=False), cache)
    return cache, archive


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def test_describe_lists_kind_size_and_source(tiny_folder: Path, tmp_path: Path) -> None:
    cache, archive = filled_cache(tiny_folder, tmp_path)
    entries = describe_cache(cache)
    by_kind = {entry.kind: entry for entry in entries}
    assert sorted(by_kind) == ["archive", "checks", "images"] and len(entries) == 3
    (extracted,) = (cache / "extracted").iterdir()
    assert by_kind["archive"].path == extracted and by_kind["archive"].source == str(archive.resolve())
    assert by_kind["archive"].size == folder_bytes(extracted) > folder_bytes(tiny_folder) - 100
    assert by_kind["images"].source == str(extracted)  # the extracted folder the images were decoded from
    assert by_kind["images"].size == by_kind["images"].path.stat().st_size > 36 * 3 * 8 * 8
    assert by_kind["checks"].source == str(tiny_folder)
    assert total_size(entries) == folder_bytes(cache)
    table = format_entries(entries)
    assert str(archive.resolve()) in table and table.splitlines()[-1].startswith("3 entries, ")


def test_clear_removes_everything_and_says_what(tiny_folder: Path, tmp_path: Path) -> None:
    cache, _ = filled_cache(tiny_folder, tmp_path)
    (cache / "images" / ".abc.pt.x1y2.tmp").write_bytes(b"12345")  # a write left by a crash
    freed = folder_bytes(cache)
    removed = clear_cache(cache)
    assert sorted(entry.kind for entry in removed) == ["archive", "checks", "images", "partial"]
    assert total_size(removed) == freed
    assert cache.is_dir() and list(cache.iterdir()) == []
    assert describe_cache(cache) == [] and clear_cache(cache) == []
    assert tiny_folder.is_dir() and len(list(tiny_folder.rglob("*.jpg"))) > 5  # the data itself is untouched


def test_missing_cache_folder_is_empty(tmp_path: Path) -> None:
    assert describe_cache(tmp_path / "nowhere") == [] and clear_cache(tmp_path / "nowhere") == []
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda root: (root / "notes.txt").write_text("mine"), r"notes\.txt is not something trainlab writes"),
        (lambda root: (root / "images").mkdir() or (root / "images" / "holiday.jpg").write_bytes(b"jpg"),
         r"holiday\.jpg is not something trainlab writes"),
        (lambda root: (root / "extracted").mkdir() or (root / "extracted" / "photos").mkdir(),
         r"extracted/photos is not something"),
        (lambda root: (root / "extracted").symlink_to(root.parent), r"extracted is not something"),
    ],
    ids=["other-file", "user-image", "other-folder", "linked-subfolder"],
)
def test_a_folder_that_is_not_a_cache_is_refused(tmp_path: Path, make: object, why: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    make(home)  # type: ignore[operator]
    before = sorted(str(path) for path in home.rglob("*"))
    for function in (describe_cache, clear_cache):
        with pytest.raises(TrainlabError, match=rf"{home} is not a trainlab cache folder: .*{why}.*nothing was"):
            function(home)
    assert sorted(str(path) for path in home.rglob("*")) == before


def test_a_real_cache_beside_user_files_is_refused_whole(tiny_folder: Path, tmp_path: Path) -> None:
    cache, _ = filled_cache(tiny_folder, tmp_path)
    (cache / "README.txt").write_text("my notes")
    with pytest.raises(TrainlabError, match=r"README\.txt is not something trainlab writes there"):
        clear_cache(cache)
    assert len(list((cache / "images").iterdir())) == 1 and (cache / "README.txt").is_file()


def test_a_file_is_not_a_cache_folder(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(TrainlabError, match=r"file is a file, not a trainlab cache folder"):
        clear_cache(path)
    assert path.read_text() == "x"
