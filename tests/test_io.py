"""Atomic writes: the content, the file mode open() would give, no temp files left, and a failed write."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from trainlab import io


def _umask() -> int:
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


def test_written_file_has_the_umask_mode(tmp_path: Path) -> None:
    path = io.atomic_write_bytes(tmp_path / "sub" / "a.bin", b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    expected = 0o666 & ~_umask()
    assert expected == io.DEFAULT_FILE_MODE
    assert stat.S_IMODE(path.stat().st_mode) == expected
    assert [p.name for p in path.parent.iterdir()] == ["a.bin"]  # no temp file left


def test_overwrite_text_and_json(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    io.atomic_write_text(target, "old")
    io.write_json(target, {"a": [1, 2]})
    assert io.read_json(target) == {"a": [1, 2]}
    assert target.read_text(encoding="utf-8").endswith("\n")


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = io.atomic_write_text(tmp_path / "keep.txt", "old")

    def boom(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(io.os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        io.atomic_write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_fsync_runs_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(io.os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(io.os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    io.atomic_write_bytes(tmp_path / "f", b"data")
    assert calls == ["fsync", "replace"]


def test_user_text_files_are_bounded_and_yaml_nesting_is_one_line(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a" * 2048)
    with pytest.raises(io.TrainlabError, match=r"recipe file .*big\.yaml is larger than 1,024 bytes; expected a small"):
        io.read_user_text(big, "recipe file", max_bytes=1024)
    assert io.read_user_text(big, "recipe file", max_bytes=2048) == "a" * 2048
    with pytest.raises(io.TrainlabError, match="x is not valid YAML: lists or mappings are nested too deeply"):
        io.load_yaml("a: " + "[" * 5000 + "]" * 5000, "x")
    assert io.parse_yaml("lr: 1e-3\nsteps: 1E2\nname: 1e3x") == {"lr": 0.001, "steps": 100.0, "name": "1e3x"}
