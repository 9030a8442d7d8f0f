"""Archives as data sources: they work, they are reused, and unsafe entries are refused before anything is written."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from trainlab.config import DataConfig
from trainlab.data import build_dataset
from trainlab.data.sources import MARKER, resolve_source
from trainlab.errors import TrainlabError


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, prefix + path.relative_to(folder).as_posix())
    return archive


def tar_with(archive: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        ok = tarfile.TarInfo("data/a/ok.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        for member in members:
            if member.isfile():
                tar.addfile(member, io.BytesIO(b"x" * member.size))
            else:
                tar.addfile(member)
    return archive


def zip_with(archive: Path, name: str) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data/a/ok.txt", "ok")
        zf.writestr(zipfile.ZipInfo(name), "evil")
    return archive


def assert_nothing_extracted(work: Path) -> None:
    extracted = work / "extracted"
    assert not extracted.exists() or list(extracted.iterdir()) == []


def test_folder_is_returned_as_is(tmp_path: Path) -> None:
    assert resolve_source(tmp_path, tmp_path / "work") == tmp_path


def test_zip_of_class_folders_builds_and_is_reused(tiny_folder: Path, tmp_path: Path) -> None:
    archive = zip_folder(tiny_folder, tmp_path / "tiny.zip", prefix="cnn_dataset/")
    work = tmp_path / "work"
    root = resolve_source(archive, work)
    assert root.name == "cnn_dataset" and (root / "cats").is_dir()  # descended into the single top folder
    assert (root.parent / MARKER).is_file()
    assert resolve_source(archive, work) == root
    assert len(list((work / "extracted").iterdir())) == 1  # no second extraction, no staging left over
    bundle = build_dataset(DataConfig(source="image_folder", path=archive, image_size=8), work)
    from_folder = build_dataset(DataConfig(source="image_folder", path=tiny_folder, image_size=8), tmp_path / "c2")
    assert bundle.counts() == from_folder.counts()
    assert [s.path for s in bundle.skipped] == [s.path for s in from_folder.skipped]


def test_tar_gz_works(tiny_folder: Path, tmp_path: Path) -> None:
    archive = tmp_path / "tiny.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny_folder, arcname="tiny")
    root = resolve_source(archive, tmp_path / "work")
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["birds", "cats", "dogs"]


@pytest.mark.parametrize("name", ["../evil.txt", "data/../../evil.txt", "/tmp/trainlab-evil-absolute.txt"])
def test_unsafe_zip_entries_are_refused(tmp_path: Path, name: str) -> None:
    archive = zip_with(tmp_path / "bad.zip", name)
    work = tmp_path / "deep" / "work"
    with pytest.raises(TrainlabError, match=rf"unsafe archive .*bad\.zip: entry '{name}'"):
        resolve_source(archive, work)
    assert_nothing_extracted(work)
    assert not (tmp_path / "deep" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert not Path("/tmp/trainlab-evil-absolute.txt").exists()


def test_zip_symlink_pointing_outside_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("data/escape")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "../../../etc/passwd")
    with pytest.raises(TrainlabError, match=r"entry 'data/escape' is a link"):
        resolve_source(archive, tmp_path / "work")
    assert_nothing_extracted(tmp_path / "work")


def _tar_member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = linkname
    member.size = 4 if kind == tarfile.REGTYPE else 0
    return member


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (_tar_member("../evil.txt"), "points outside"),
        (_tar_member("/abs/evil.txt"), "absolute path"),
        (_tar_member("data/etc", tarfile.SYMTYPE, "/etc"), "link to the absolute path '/etc'"),
        (_tar_member("data/up", tarfile.SYMTYPE, "../../.."), "outside the extraction folder"),
        (_tar_member("data/hard", tarfile.LNKTYPE, "../outside.txt"), "outside the extraction folder"),
        (_tar_member("data/null", tarfile.CHRTYPE), "device or special file"),
    ],
    ids=["dotdot", "absolute", "symlink-etc", "symlink-up", "hardlink-out", "device"],
)
def test_unsafe_tar_entries_are_refused(tmp_path: Path, member: tarfile.TarInfo, why: str) -> None:
    archive = tar_with(tmp_path / "bad.tar.gz", [member])
    work = tmp_path / "work"
    with pytest.raises(TrainlabError, match=rf"bad\.tar\.gz: entry '{member.name}' .*{why}"):
        resolve_source(archive, work)
    assert_nothing_extracted(work)
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_inside_the_archive_is_allowed(tmp_path: Path) -> None:
    archive = tar_with(tmp_path / "ok.tar.gz", [_tar_member("data/b", tarfile.SYMTYPE, "a")])
    root = resolve_source(archive, tmp_path / "work")
    assert (root / "b" / "ok.txt").read_text() == "ok"


def test_other_files_and_broken_archives(tmp_path: Path) -> None:
    text = tmp_path / "data.csv"
    text.write_text("a,b\n")
    with pytest.raises(TrainlabError, match=r"data\.csv is not a folder or a supported archive; expected .*\.zip"):
        resolve_source(text, tmp_path / "work")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(os.urandom(200))
    with pytest.raises(TrainlabError, match=r"broken\.zip is not a readable zip archive"):
        resolve_source(broken, tmp_path / "work")
    broken_tar = tmp_path / "broken.tar.gz"
    broken_tar.write_bytes(os.urandom(200))
    with pytest.raises(TrainlabError, match=r"broken\.tar\.gz"):
        resolve_source(broken_tar, tmp_path / "work")
    assert_nothing_extracted(tmp_path / "work")
