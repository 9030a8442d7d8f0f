"""Archives as data sources: they work, they are reused, and unsafe entries are refused before anything is written."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from trainlab.config import DataConfig
from trainlab.data import build_dataset, sources
from trainlab.data.sources import MARKER, DeclaredSizeExceededError, copy_limited, resolve_source
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


@pytest.mark.parametrize("target", ["../../../etc/passwd", "a/ok.txt"], ids=["outside", "inside"])
def test_every_zip_symlink_is_refused(tmp_path: Path, target: str) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data/a/ok.txt", "ok")
        info = zipfile.ZipInfo("data/escape")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, target)
    with pytest.raises(TrainlabError, match=r"entry 'data/escape' is a symbolic link \(links are refused"):
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
        (_tar_member("data/etc", tarfile.SYMTYPE, "/etc"), "is a symbolic link to '/etc'"),
        (_tar_member("data/up", tarfile.SYMTYPE, "../../.."), r"is a symbolic link to '\.\./\.\./\.\.'"),
        (_tar_member("data/b", tarfile.SYMTYPE, "a"), r"is a symbolic link to 'a' \(links are refused"),
        (_tar_member("data/hard", tarfile.LNKTYPE, "../outside.txt"), "is a hard link to '../outside.txt'"),
        (_tar_member("data/hard", tarfile.LNKTYPE, "data/a/ok.txt"), "is a hard link to 'data/a/ok.txt'"),
        (_tar_member("data/null", tarfile.CHRTYPE), "device or special file"),
        (_tar_member("data/disk", tarfile.BLKTYPE), "device or special file"),
        (_tar_member("data/pipe", tarfile.FIFOTYPE), "device or special file"),
    ],
    ids=["dotdot", "absolute", "symlink-etc", "symlink-up", "symlink-inside", "hardlink-out", "hardlink-inside",
         "char-device", "block-device", "fifo"],
)
def test_unsafe_tar_entries_are_refused(tmp_path: Path, member: tarfile.TarInfo, why: str) -> None:
    archive = tar_with(tmp_path / "bad.tar.gz", [member])
    work = tmp_path / "work"
    with pytest.raises(TrainlabError, match=rf"bad\.tar\.gz: entry '{member.name}' .*{why}"):
        resolve_source(archive, work)
    assert_nothing_extracted(work)
    assert not (tmp_path / "evil.txt").exists()


def test_chained_symlinks_write_nothing_outside(tmp_path: Path) -> None:
    """x -> . makes x/x/x the target itself; y -> ../../.. from there is above it; PWNED.txt would land outside."""
    archive = tmp_path / "chain.tar"
    with tarfile.open(archive, "w") as tar:
        for member in (_tar_member("x", tarfile.SYMTYPE, "."), _tar_member("x/x/x/y", tarfile.SYMTYPE, "../../..")):
            tar.addfile(member)
        pwned = _tar_member("x/x/x/y/PWNED.txt")
        tar.addfile(pwned, io.BytesIO(b"evil"))
    work = tmp_path / "deep" / "er" / "work"
    with pytest.raises(TrainlabError, match=r"chain\.tar: entry 'x' is a symbolic link to '\.'.*nothing was extracted"):
        resolve_source(archive, work)
    assert_nothing_extracted(work)
    assert list(tmp_path.rglob("PWNED.txt")) == [] and list(tmp_path.rglob("y")) == []


def test_tar_extraction_keeps_folders_files_and_bytes(tmp_path: Path) -> None:
    archive = tmp_path / "plain.tar"
    with tarfile.open(archive, "w") as tar:
        for name in (".", "./data", "./data/empty"):
            tar.addfile(_tar_member(name, tarfile.DIRTYPE))
        payload = bytes(range(256)) * 40
        member = _tar_member("./data/a/b/blob.bin")
        member.size = len(payload)
        tar.addfile(member, io.BytesIO(payload))
    root = resolve_source(archive, tmp_path / "work")
    assert (root / "a" / "b" / "blob.bin").read_bytes() == payload
    assert (root / "empty").is_dir() and not any((root / "empty").iterdir())


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize(
    ("names", "why"),
    [(["data/a.txt", "data/a.txt"], "'data/a.txt' appears twice"),
     (["data/a.txt", "data/a.txt/b.txt"], "'data/a.txt/b.txt' needs a folder where the archive has the file")],
    ids=["twice", "file-as-folder"],
)
def test_clashing_names_are_refused(tmp_path: Path, names: list[str], why: str) -> None:
    archive = tmp_path / "clash.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in names:
            zf.writestr(zipfile.ZipInfo(name), "x")
    with pytest.raises(TrainlabError, match=rf"clash\.zip: entry {why}"):
        resolve_source(archive, tmp_path / "work")
    assert_nothing_extracted(tmp_path / "work")


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


def _bomb(archive: Path, count: int, size: int) -> Path:
    """``count`` files of ``size`` zero bytes: what an archive bomb looks like, scaled down."""
    names = [f"bomb/c{i % 2}/{i:05d}.bmp" for i in range(count)]
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in names:
                zf.writestr(name, bytes(size))
        return archive
    with tarfile.open(archive, "w:gz") as tar:
        for name in names:
            member = _tar_member(name)
            member.size = size
            tar.addfile(member, io.BytesIO(bytes(size)))
    return archive


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
def test_archive_bomb_is_refused_before_writing(tmp_path: Path, suffix: str) -> None:
    archive = _bomb(tmp_path / f"bomb{suffix}", 2000, 10 * 1024)  # 20.5 MB of zeros in a few hundred KB
    ratio = 2000 * 10 * 1024 / archive.stat().st_size
    assert ratio > 50 and sources.EXPANSION_FLOOR < 2000 * 10 * 1024
    work = tmp_path / "work"
    with pytest.raises(TrainlabError, match=rf"archive .*bomb{suffix} expands to 20\.5 MB, {ratio:,.0f}x its ") as err:
        resolve_source(archive, work)
    message = str(err.value)
    assert "at most 20x an archive's size (or 16.8 MB)" in message and "\n" not in message
    assert message.endswith("extract it yourself and pass the folder with --data FOLDER")
    assert_nothing_extracted(work)


def test_too_many_entries_are_refused(tmp_path: Path) -> None:
    archive = _bomb(tmp_path / "many.tar.gz", 5000, 0)  # empty files: tar headers compress to ~5 bytes each
    limit = archive.stat().st_size // 64 + 1000
    with pytest.raises(TrainlabError, match=rf"holds 5,000 entries in .*at most one entry per 64 archive bytes "
                                            rf"\(here {limit:,}\)"):
        resolve_source(archive, tmp_path / "work")
    assert_nothing_extracted(tmp_path / "work")


def test_a_modest_expansion_is_extracted(tmp_path: Path) -> None:
    """Under the floor, any ratio passes (a small archive of flat synthetic images compresses very well)."""
    archive = _bomb(tmp_path / "flat.zip", 100, 64 * 64 * 3)
    assert 100 * 64 * 64 * 3 / archive.stat().st_size > sources.MAX_EXPANSION
    root = resolve_source(archive, tmp_path / "work")
    assert len(list(root.rglob("*.bmp"))) == 100 and (root / "c0" / "00000.bmp").read_bytes() == bytes(64 * 64 * 3)


def test_free_disk_space_is_checked(tiny_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = zip_folder(tiny_folder, tmp_path / "tiny.zip")
    real = sources.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(sources.shutil, "disk_usage", lambda path: real._replace(free=100_000))
    with pytest.raises(TrainlabError, match=r"tiny\.zip needs about .* MB extracted but .*extracted has 0\.1 MB free "
                                            r"\(trainlab uses at most 90% of it\); free some space"):
        resolve_source(archive, tmp_path / "work")
    assert_nothing_extracted(tmp_path / "work")


def test_streaming_stops_at_the_declared_size(tmp_path: Path) -> None:
    assert copy_limited(io.BytesIO(b"0123456789"), tmp_path / "exact", 10) == 10
    assert (tmp_path / "exact").read_bytes() == b"0123456789"
    with pytest.raises(DeclaredSizeExceededError, match="more than the 4 bytes it declares"):
        copy_limited(io.BytesIO(b"0123456789"), tmp_path / "lied", 4)
    assert (tmp_path / "lied").stat().st_size <= 4
    with pytest.raises(FileExistsError):  # never through a path that exists (a planted link or file)
        copy_limited(io.BytesIO(b"x"), tmp_path / "exact", 1)


def test_a_zip_whose_sizes_lie_extracts_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("data/a/big.bin", bytes(1000))
    raw = bytearray(archive.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # uncompressed size: 1000 -> 10
        at = raw.index(signature) + offset
        raw[at:at + 4] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(raw))
    with pytest.raises(TrainlabError, match=r"liar\.zip is not a readable zip archive: Bad CRC-32"):
        resolve_source(archive, tmp_path / "work")
    assert_nothing_extracted(tmp_path / "work")
