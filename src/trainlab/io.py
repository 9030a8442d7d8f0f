"""File I/O shared by every part of trainlab.

* Atomic writes: every file trainlab writes goes through here, so a crash never leaves half a file, and every JSON
  file is strict JSON (a non-finite float is written as ``null``, never as a bare ``NaN``).
* Reading user files: :func:`read_user_text` and :func:`load_yaml` turn an unreadable file, non-UTF-8 bytes or a YAML
  syntax error into one :class:`TrainlabError` line naming the file and the place.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import Any

import yaml

from trainlab.errors import TrainlabError


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


def finite_or_none(payload: Any) -> Any:
    """``payload`` with every non-finite float (NaN, ±inf) replaced by None, so that it serializes as strict JSON."""
    if isinstance(payload, float):
        return payload if math.isfinite(payload) else None
    if isinstance(payload, dict):
        return {key: finite_or_none(value) for key, value in payload.items()}
    if isinstance(payload, list | tuple):
        return [finite_or_none(value) for value in payload]
    return payload


def write_json(path: str | Path, payload: Any) -> Path:
    """Write ``payload`` as strict JSON (``allow_nan=False``): a non-finite float becomes ``null``."""
    text = json.dumps(finite_or_none(payload), indent=2, sort_keys=False, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


MAX_USER_TEXT = 16 * 2**20
"""The largest text file a user gives trainlab (a recipe, a weights file): far past any real one, and a path such as
``/dev/zero`` cannot fill the memory."""


def read_user_text(path: str | Path, what: str, max_bytes: int = MAX_USER_TEXT) -> str:
    """The UTF-8 text of a file the user gave; unreadable, oversized or non-UTF-8 content is one TrainlabError line.

    ``what`` names the file's role in the message, e.g. ``"recipe file"`` or ``"weights file"``.
    """
    path = Path(path)
    if path.is_dir():
        raise TrainlabError(f"{what} {path} is a folder; expected a file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise TrainlabError(f"{what} {path} does not exist") from None
    except OSError as error:
        raise TrainlabError(f"cannot read {what} {path}: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise TrainlabError(f"{what} {path} is larger than {max_bytes:,} bytes; expected a small text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise TrainlabError(
            f"{what} {path} is not UTF-8 text: byte 0x{data[error.start]:02x} on line {line} cannot be decoded; "
            "save the file as UTF-8"
        ) from None


class _Yaml12Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``1e-3`` and ``2E5`` as floats, as YAML 1.2 and every user expect.

    PyYAML follows YAML 1.1, where a float needs a dot (``1.0e-3``), so ``lr: 1e-3`` would arrive as the string
    ``"1e-3"``. Nothing else differs from ``safe_load``: no Python objects are ever constructed.
    """


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


class YamlTooDeepError(yaml.YAMLError):
    """Collections nested deeper than Python's recursion limit lets PyYAML build (thousands of ``[``)."""


def parse_yaml(text: str) -> Any:
    """``yaml.safe_load`` with YAML 1.2 exponent floats; raises ``yaml.YAMLError`` on a syntax error (and on nesting
    too deep to build, which PyYAML would report as a RecursionError)."""
    try:
        return yaml.load(text, Loader=_Yaml12Loader)  # a SafeLoader subclass: safe_load's guarantees hold
    except RecursionError:
        raise YamlTooDeepError("lists or mappings are nested too deeply") from None


def yaml_error_text(error: yaml.YAMLError) -> str:
    """A YAML syntax error on one line: ``line 3, column 7: mapping values are not allowed here``."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + " ".join(str(problem).split())


def load_yaml(text: str, origin: str) -> Any:
    """:func:`parse_yaml`, with a syntax error turned into one TrainlabError line naming ``origin`` and the place."""
    try:
        return parse_yaml(text)
    except yaml.YAMLError as error:
        raise TrainlabError(f"{origin} is not valid YAML: {yaml_error_text(error)}") from None


def new_stamped_dir(parent: Path, prefix: str = "") -> Path:
    """Create and return ``parent/<prefix><YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``, ... when that name is taken.

    The folder is made with ``mkdir`` without ``exist_ok``, which the file system does atomically: of several callers
    in the same second, each gets a folder of its own.
    """
    parent.mkdir(parents=True, exist_ok=True)
    stem = f"{prefix}{datetime.now():%Y%m%d-%H%M%S}"
    for suffix in count(1):
        folder = parent / (stem if suffix == 1 else f"{stem}-{suffix}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise AssertionError("unreachable")


def check_writable_dir(path: str | Path, what: str) -> Path:
    """Fail now, with one line naming ``what`` (e.g. ``"output.dir"``), if ``path`` cannot become a writable folder.

    Nothing is created: the nearest existing ancestor must be a folder this process may write into (or ``path``
    itself, when it exists). Called before any long work, so a bad output path is not noticed only at the end.
    """
    path = Path(path)
    existing = path
    while not existing.exists():
        if existing.is_symlink():  # a dangling link where a folder should be
            raise TrainlabError(f"{what} {path}: {existing} is a broken link; expected a folder")
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == path else f"lies under {existing}, which is a file"
        raise TrainlabError(f"{what} {path} {where}; expected a folder (give another path)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TrainlabError(f"{what} {path}: no permission to write in {existing}")
    return path
