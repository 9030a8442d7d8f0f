"""The ``text_csv`` and ``airline`` datasets: one CSV file with a text column and a label column.

``data.path`` is the CSV; ``data.options`` (checked by :class:`TextCsvOptions`) names the columns, maps or drops
labels, and sets the vocabulary and the length cap. ``airline`` is ``text_csv`` with ``group_columns`` defaulting to
``[airline, negativereason]`` (Tweets.csv), whose class counts per value the report draws.

Rows are numbered from 1 after the header, blank lines left out (as pandas numbers them); ``row 17`` is a sample's
id in predictions.csv. A row whose text has no tokens is skipped and listed; rows dropped on purpose (``binary``, a
label mapped to null) are counted in the profile's ``dropped``. The split is stratified (``data.split``,
``data.split_seed``); the vocabulary and the length cap come from the train split alone, so no val or test text
shapes what the model can see.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from trainlab.config import DataConfig
from trainlab.data.bundle import DataBundle, SkippedFile, TokenSplit
from trainlab.data.options import parse_source_options
from trainlab.data.registry import DATASETS
from trainlab.data.specs import TokenSpec
from trainlab.data.splits import stratified_split
from trainlab.data.text.tokenize import TOKENIZERS, Tokenizer
from trainlab.data.text.vocab import PAD_ID, UNK_ID, build_vocabulary, encode, pad_sequences, vocabulary_index
from trainlab.errors import TrainlabError

NEEDS_PATH = "the {source} dataset reads one CSV file: pass --data path/to/Tweets.csv"
EMPTY_TEXT = "empty text"
NEUTRAL = "neutral"
AIRLINE_GROUPS = ("airline", "negativereason")
GROUP_VALUE_LIMIT = 50  # a group column's most frequent values kept in the profile; the rest are summed
OTHER_VALUES = "(other values)"
HISTOGRAM_UNIT_BINS = 120  # token lengths up to this get one bin per length


class TextCsvOptions(BaseModel):
    """``data.options`` of the CSV text datasets."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    text_column: str = "text"
    label_column: str = "airline_sentiment"
    labels: dict[str, str | None] | None = None  # raw label → class name; null or "" drops the row
    binary: StrictBool = False  # drop "neutral" rows
    min_freq: Annotated[StrictInt, Field(ge=1)] = 2
    max_vocab: Annotated[StrictInt, Field(ge=3, le=10_000_000)] = 20_000
    max_len: Annotated[StrictInt, Field(ge=1, le=1_000_000)] | None = None  # None: the length_percentile of train
    length_percentile: Annotated[float, Field(gt=0.0, le=100.0)] = 95.0
    tokenizer: str = "tweet"
    group_columns: list[str] = Field(default_factory=list)

    @field_validator("tokenizer")
    @classmethod
    def _known_tokenizer(cls, name: str) -> str:
        if name not in TOKENIZERS:
            raise ValueError(f"unknown tokenizer {name!r}; known: {', '.join(TOKENIZERS.names())}")
        return name


def parse_options(raw: dict[str, Any], defaults: dict[str, Any] | None = None) -> TextCsvOptions:
    """``data.options`` over ``defaults``, validated; every problem is named ``data.options.<key>`` in one error."""
    return parse_source_options(TextCsvOptions, raw, defaults)


def _decode(path: Path, data: bytes) -> str:
    """The file as text (a UTF-8 BOM is dropped); bytes that are not UTF-8 are named by line and data row."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = data[: error.start].decode("utf-8-sig")
        line = before.count("\n") + 1
        records = sum(1 for _ in csv.reader(io.StringIO(before + "x", newline="")))  # the last one holds the bytes
        where = "the header" if records <= 1 else f"data row {records - 1}"
        bad = data[error.start : error.end].hex(" ")
        raise TrainlabError(
            f"{path} is not UTF-8 text: line {line} ({where}) holds the bytes {bad}; save the file as UTF-8"
        ) from None


@dataclass
class CsvTable:
    """A CSV's header and its data rows, read one at a time: ``(row number, first line, fields)``."""

    path: Path
    header: list[str]
    rows: Iterator[tuple[int, int, list[str]]]


def _records(path: Path, reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the line each starts on; a CSV syntax error names its line."""
    line = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise TrainlabError(f"{path} is not a readable CSV file: {error} (line {reader.line_num})") from None
        if record:
            yield line, record
        line = reader.line_num + 1


def open_csv(path: Path) -> CsvTable:
    """Read ``path``'s header; its rows follow lazily, each checked to have as many fields as the header."""
    if not path.exists():
        raise TrainlabError(f"data file {path} does not exist; pass --data path/to/Tweets.csv")
    if path.is_dir():
        raise TrainlabError(f"{path} is a folder; the text datasets read one CSV file: pass --data path/to/Tweets.csv")
    try:
        text = _decode(path, path.read_bytes())
    except OSError as error:
        raise TrainlabError(f"cannot read {path}: {error.strerror or error}") from None
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        raise TrainlabError(f"{path} is not a CSV text file: line {line} holds a NUL byte (binary data)")
    records = _records(path, csv.reader(io.StringIO(text, newline="")))
    first = next(records, None)
    if first is None:
        raise TrainlabError(f"{path} is empty; expected a CSV file whose first row names the columns")
    header = [name.strip() for name in first[1]]
    duplicates = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicates:
        raise TrainlabError(f"{path}: the header names the column(s) {', '.join(map(repr, duplicates))} more than "
                            "once; every column needs its own name")

    def rows() -> Iterator[tuple[int, int, list[str]]]:
        for number, (line, record) in enumerate(records, start=1):
            if len(record) != len(header):
                raise TrainlabError(
                    f"{path}: row {number} (line {line}) has {len(record)} field(s) but the header has {len(header)}; "
                    "expected a comma-separated file with one header row (quote fields that hold commas)"
                )
            yield number, line, record

    return CsvTable(path, header, rows())


def column_position(table: CsvTable, column: str, key: str) -> int:
    """Where ``column`` is in the header; a missing one names the option, the file and the columns there."""
    if column in table.header:
        return table.header.index(column)
    by_case = [name for name in table.header if name.lower() == column.lower()]
    close = by_case or difflib.get_close_matches(column, table.header, n=1, cutoff=0.8)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise TrainlabError(
        f"{table.path} has no column {column!r} (data.options.{key}); its columns are "
        f"{', '.join(map(repr, table.header))}{hint}"
    )



@dataclass
class _Rows:
    """The usable rows: their numbers, texts, tokens, class names and group values, and what was left out."""

    numbers: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    tokens: list[list[str]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    read: int = 0


def _class_name(raw: str, number: int, table: CsvTable, opts: TextCsvOptions) -> str | None:
    """The row's class name; None when the row is dropped on purpose (label mapped to null)."""
    where = f"{table.path}: row {number}"
    if opts.labels is not None:
        if raw not in opts.labels:
            raise TrainlabError(
                f"{where} has the label {raw!r} in column {opts.label_column!r}, which data.options.labels does not "
                f"map (it maps {', '.join(map(repr, sorted(opts.labels)))}); add it, or map it to null to drop its rows"
            )
        return opts.labels[raw] or None
    if not raw:
        raise TrainlabError(f"{where} has an empty label in column {opts.label_column!r}; give every row a label, or "
                            "drop such rows with data.options.labels mapping '' to null")
    return raw


def read_rows(table: CsvTable, opts: TextCsvOptions, tokenizer: Tokenizer) -> _Rows:
    """Every data row, tokenized; label errors are fatal, texts without tokens are skipped."""
    text_at = column_position(table, opts.text_column, "text_column")
    label_at = column_position(table, opts.label_column, "label_column")
    group_at = [column_position(table, column, "group_columns") for column in opts.group_columns]
    out = _Rows()
    for number, _, record in table.rows:
        out.read += 1
        raw = record[label_at].strip()
        name = _class_name(raw, number, table, opts)
        if name is None:
            out.dropped[f"label {raw!r} mapped to null"] += 1
            continue
        if opts.binary and name == NEUTRAL:
            out.dropped["neutral (data.options.binary)"] += 1
            continue
        tokens = tokenizer.tokenize(record[text_at])
        if not tokens:
            out.skipped.append(SkippedFile(path=f"row {number}", reason=EMPTY_TEXT))
            continue
        out.numbers.append(number)
        out.texts.append(record[text_at])
        out.tokens.append(tokens)
        out.names.append(name)
        out.groups.append([record[at].strip() for at in group_at])
    return out


def _check_classes(rows: _Rows, table: CsvTable, opts: TextCsvOptions) -> list[str]:
    classes = sorted(set(rows.names))
    if len(classes) < 2:
        left_out = [f"{len(rows.skipped)} with empty text"] if rows.skipped else []
        left_out += [f"{n} {why}" for why, n in rows.dropped.items()]
        note = f" ({'; '.join(left_out)} left out)" if left_out else ""
        raise TrainlabError(
            f"{table.path}: column {opts.label_column!r} holds {len(classes)} class(es) "
            f"({', '.join(map(repr, classes)) or 'none'}) in the {len(rows.names)} usable row(s) of {rows.read}"
            f"{note}; a classifier needs at least 2"
        )
    return classes


def cap_per_class(labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Indices of at most ``limit`` rows per class, sorted: a seeded sample rather than the first rows, because a
    CSV is often sorted by something (Tweets.csv by airline) that the first rows would over-represent."""
    if not limit:
        return np.arange(len(labels), dtype=np.int64)
    rng = np.random.default_rng(seed)
    picked = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        picked.append(members if len(members) <= limit else rng.choice(members, size=limit, replace=False))
    return np.sort(np.concatenate(picked)).astype(np.int64)


def _take(rows: _Rows, keep: np.ndarray) -> _Rows:
    """``rows`` cut to the rows at ``keep`` (what was skipped, dropped and read stays as it was)."""
    picked = keep.tolist()
    return _Rows(
        numbers=[rows.numbers[i] for i in picked], texts=[rows.texts[i] for i in picked],
        tokens=[rows.tokens[i] for i in picked], names=[rows.names[i] for i in picked],
        groups=[rows.groups[i] for i in picked], skipped=rows.skipped, dropped=rows.dropped, read=rows.read,
    )



@dataclass(frozen=True)
class _Encoded:
    vocab: tuple[str, ...]
    pad_id: int
    unk_id: int
    ids: list[list[int]]  # one list per row, before the length cap


def encode_rows(rows: _Rows, train: np.ndarray, tokenizer: Tokenizer, opts: TextCsvOptions) -> _Encoded:
    """Every row's ids: under a vocabulary built from the train rows, or the tokenizer's own fixed one."""
    fixed = tokenizer.fixed_vocabulary()
    if fixed is None:
        vocab = build_vocabulary((rows.tokens[i] for i in train.tolist()), min_freq=opts.min_freq,
                                 max_size=opts.max_vocab)
        index = vocabulary_index(vocab)
        return _Encoded(vocab, PAD_ID, UNK_ID, [encode(tokens, index, UNK_ID) for tokens in rows.tokens])
    vocab, pad_id, unk_id = fixed
    index = vocabulary_index(vocab)
    return _Encoded(tuple(vocab), pad_id, unk_id, [tokenizer.encode(text, index, unk_id) for text in rows.texts])


def length_cap(train_lengths: np.ndarray, opts: TextCsvOptions) -> int:
    """``data.options.max_len``, or the ``length_percentile`` percentile of the train lengths rounded up."""
    if opts.max_len is not None:
        return opts.max_len
    value = float(np.percentile(train_lengths, opts.length_percentile))
    return max(1, math.ceil(round(value, 6)))  # rounded first: 31.000000000004 is 31


def length_histogram(lengths: np.ndarray) -> dict[str, list[float] | list[int]]:
    """``{"edges", "counts"}``: one bin per length ``[n, n + 1)`` up to HISTOGRAM_UNIT_BINS, else 60 equal bins."""
    top = int(lengths.max())
    if top <= HISTOGRAM_UNIT_BINS:
        counts = np.bincount(lengths, minlength=top + 1)[1:]
        return {"edges": list(range(1, top + 2)), "counts": [int(n) for n in counts]}
    counts, edges = np.histogram(lengths, bins=60, range=(1, top + 1))
    return {"edges": [round(float(e), 3) for e in edges], "counts": [int(n) for n in counts]}



def group_counts(rows: _Rows, columns: list[str], classes: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    """``{column: {value: {class: count}}}`` over ``rows``, values by count (most first); past GROUP_VALUE_LIMIT
    values the rest are summed under OTHER_VALUES."""
    result: dict[str, dict[str, dict[str, int]]] = {}
    for position, column in enumerate(columns):
        pairs = Counter((values[position], name) for values, name in zip(rows.groups, rows.names, strict=True))
        totals = Counter(values[position] for values in rows.groups)
        order = sorted(totals, key=lambda value: (-totals[value], value))
        table: dict[str, dict[str, int]] = {}
        for rank, value in enumerate(order):
            key = value if rank < GROUP_VALUE_LIMIT else OTHER_VALUES
            cell = table.setdefault(key, dict.fromkeys(classes, 0))
            for name in classes:
                cell[name] += pairs[(value, name)]
        result[column] = table
    return result


def _unk_rate(encoded: _Encoded, indices: np.ndarray) -> float:
    picked = [encoded.ids[i] for i in indices.tolist()]
    total = sum(len(ids) for ids in picked)
    unknown = sum(ids.count(encoded.unk_id) for ids in picked)
    return unknown / total if total else 0.0


def build_profile(rows: _Rows, opts: TextCsvOptions, classes: list[str], encoded: _Encoded,
                  splits: dict[str, np.ndarray], cap: int) -> dict[str, Any]:
    """The JSON-ready facts the report's text EDA draws (lengths in tokens of the TRAIN split, before the cap)."""
    train_lengths = np.array([len(encoded.ids[i]) for i in splits["train"].tolist()], dtype=np.int64)
    truncated = int((train_lengths > cap).sum())
    return {
        "rows_read": rows.read,
        "rows_used": len(rows.names),
        "text_column": opts.text_column,
        "label_column": opts.label_column,
        "tokenizer": opts.tokenizer,
        "binary": opts.binary,
        "skipped_empty": len(rows.skipped),
        "dropped": dict(rows.dropped),
        "length_percentile": opts.length_percentile,
        "max_len": cap,
        "max_len_from": "percentile" if opts.max_len is None else "data.options.max_len",
        "truncated": {"count": truncated, "fraction": truncated / len(train_lengths)},
        "length_histogram": length_histogram(train_lengths),
        "vocab_size": len(encoded.vocab),
        "min_freq": opts.min_freq,
        "max_vocab": opts.max_vocab,
        "unk_rate": {name: _unk_rate(encoded, indices) for name, indices in splits.items()},
        "groups": group_counts(rows, opts.group_columns, classes),
    }



def build_text_csv(cfg: DataConfig, source: str, defaults: dict[str, Any] | None = None) -> DataBundle:
    """Read, tokenize, split (stratified) and encode the CSV at ``cfg.path``; see the module docstring."""
    if cfg.path is None:
        raise TrainlabError(NEEDS_PATH.format(source=source))
    opts = parse_options(cfg.options, defaults)
    tokenizer = TOKENIZERS.build(opts.tokenizer)
    table = open_csv(Path(cfg.path).expanduser())
    rows = read_rows(table, opts, tokenizer)
    classes = _check_classes(rows, table, opts)
    label_of = {name: label for label, name in enumerate(classes)}
    rows = _take(rows, cap_per_class(np.array([label_of[n] for n in rows.names]), cfg.max_per_class, cfg.split_seed))
    labels = np.array([label_of[name] for name in rows.names], dtype=np.int64)
    train, val, test = stratified_split(labels, val=cfg.split.val, test=cfg.split.test, seed=cfg.split_seed,
                                        classes=classes)
    splits = {"train": train, "val": val, "test": test}
    encoded = encode_rows(rows, train, tokenizer, opts)
    cap = length_cap(np.array([len(encoded.ids[i]) for i in train.tolist()]), opts)
    spec = TokenSpec(encoded.vocab, cap, opts.tokenizer, encoded.pad_id, encoded.unk_id)

    def make_split(indices: np.ndarray) -> TokenSplit:
        picked = indices.tolist()
        tokens, lengths = pad_sequences([encoded.ids[i] for i in picked], cap, encoded.pad_id)
        return TokenSplit(tokens, lengths, torch.from_numpy(labels[indices]),
                          ids=tuple(f"row {rows.numbers[i]}" for i in picked),
                          texts=tuple(rows.texts[i] for i in picked))

    return DataBundle(
        train=make_split(train), val=make_split(val), test=make_split(test), classes=classes,
        skipped=rows.skipped, source=f"{source} {table.path.name}", input=spec,
        profile=build_profile(rows, opts, classes, encoded, splits, cap),
    )


@DATASETS.register("text_csv", input="tokens")
def build_text_csv_source(cfg: DataConfig, cache_dir: Path) -> DataBundle:
    """Any CSV with a text and a label column (``data.options``); ``cache_dir`` is unused (it builds in a second)."""
    del cache_dir
    return build_text_csv(cfg, "text_csv")


@DATASETS.register("airline", input="tokens")
def build_airline(cfg: DataConfig, cache_dir: Path) -> DataBundle:
    """Tweets.csv (Twitter US Airline Sentiment): ``text_csv`` with class counts per airline and negative reason."""
    del cache_dir
    return build_text_csv(cfg, "airline", {"group_columns": list(AIRLINE_GROUPS)})
