"""Atomic writes: every file trainlab writes goes through here, so a crash never leaves half a file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _read_umask() -> int:
    """The process umask. ``os.umask`` can only be read by setting it, and the setting is process-wide, so this runs
    once, at import time, before trainlab starts any thread of its own."""
    umask = os.umask(0o077)  # restrictive for the instant before it is put back
    os.umask(umask)
    return umask


DEFAULT_FILE_MODE = 0o666 & ~_read_umask()
"""What ``open()`` would give a new file (``mkstemp`` alone gives 0o600); a umask changed later is not seen."""


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, and rename it into place.

    The file gets :data:`DEFAULT_FILE_MODE`. Readers see either the old file or the whole new one, never a part; the
    ``fsync`` before the rename keeps a crash from leaving an empty or partial file under the final name.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.chmod(tmp_name, DEFAULT_FILE_MODE)
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, payload: Any) -> Path:
    return atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
