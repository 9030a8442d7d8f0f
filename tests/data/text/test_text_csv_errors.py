"""Every bad input to the CSV text datasets is one TrainlabError naming the file, row, column or option."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from trainlab.config import DataConfig
from trainlab.data import SkippedFile, build_dataset
from trainlab.data.bundle import DataBundle
from trainlab.errors import TrainlabError

HEADER = "text,airline_sentiment"


def good_rows(count: int = 10) -> list[str]:
    """``count`` rows per class of two classes, enough for a 70/15/15 split."""
    return [f"so bad {i},negative" for i in range(count)] + [f"so good {i},positive" for i in range(count)]


def csv_text(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def build(path: Path | None, tmp_path: Path, source: str = "text_csv", **options: object) -> DataBundle:
    return build_dataset(DataConfig(source=source, path=path, options=options), tmp_path / "cache")


def error_of(path: Path | None, tmp_path: Path, **options: object) -> str:
    with pytest.raises(TrainlabError) as caught:
        build(path, tmp_path, **options)
    return str(caught.value)


def test_no_path(tmp_path: Path) -> None:
    assert "pass --data path/to/Tweets.csv" in error_of(None, tmp_path)


def test_file_not_found(tmp_path: Path) -> None:
    message = error_of(tmp_path / "nope.csv", tmp_path)
    assert f"{tmp_path / 'nope.csv'} does not exist" in message and "--data" in message


def test_a_folder_is_not_a_csv(tmp_path: Path) -> None:
    assert f"{tmp_path} is a folder" in error_of(tmp_path, tmp_path)


def test_empty_file(write_csv: Callable, tmp_path: Path) -> None:
    path = write_csv("\n\n")
    assert f"{path} is empty" in error_of(path, tmp_path)


@pytest.mark.parametrize(("option", "column"), [("text_column", "text"), ("label_column", "airline_sentiment")])
def test_missing_column_lists_the_columns(write_csv: Callable, tmp_path: Path, option: str, column: str) -> None:
    header = "tweet,sentiment,airline_sentiment" if column == "text" else "text,sentiment"
    path = write_csv(csv_text(header, *(f"{row},x" for row in good_rows())))
    message = error_of(path, tmp_path)
    assert f"{path} has no column {column!r} (data.options.{option})" in message
    assert "its columns are 'tweet', 'sentiment'" in message or "its columns are 'text', 'sentiment'" in message


def test_missing_group_column(write_csv: Callable, tmp_path: Path) -> None:
    path = write_csv(csv_text(HEADER, *good_rows()))
    with pytest.raises(TrainlabError, match=r"no column 'airline' \(data.options.group_columns\); its columns are "
                                            r"'text', 'airline_sentiment'"):
        build(path, tmp_path, source="airline")


def test_duplicate_header_names(write_csv: Callable, tmp_path: Path) -> None:
    path = write_csv(csv_text("text,airline_sentiment,text,id,id", *(f"{r},a,1,2" for r in good_rows())))
    message = error_of(path, tmp_path)
    assert f"{path}: the header names the column(s) 'id', 'text' more than once" in message


def test_empty_label_names_the_row(write_csv: Callable, tmp_path: Path) -> None:
    rows = good_rows()
    rows[3] = "no label here,"
    path = write_csv(csv_text(HEADER, *rows))
    message = error_of(path, tmp_path)
    assert f"{path}: row 4 has an empty label in column 'airline_sentiment'" in message


def test_empty_label_mapped_to_null_is_dropped(write_csv: Callable, tmp_path: Path) -> None:
    rows = [*good_rows(), "no label here,", "another, "]
    path = write_csv(csv_text(HEADER, *rows))
    bundle = build(path, tmp_path, labels={"negative": "negative", "positive": "positive", "": None})
    assert bundle.profile["dropped"] == {"label '' mapped to null": 2}
    assert bundle.profile["rows_used"] == 20 and bundle.skipped == []


def test_unknown_label_names_the_row_and_value(write_csv: Callable, tmp_path: Path) -> None:
    rows = [*good_rows(), "meh,mixed"]
    path = write_csv(csv_text(HEADER, *rows))
    message = error_of(path, tmp_path, labels={"negative": "neg", "positive": "pos"})
    assert f"{path}: row 21 has the label 'mixed' in column 'airline_sentiment'" in message
    assert "data.options.labels does not map (it maps 'negative', 'positive')" in message


def test_empty_texts_are_skipped_rows(write_csv: Callable, tmp_path: Path) -> None:
    rows = good_rows()
    rows[0], rows[4], rows[12] = ",negative", '"  \n\t ",negative', "\u200b\ufe0f,positive"
    path = write_csv(csv_text(HEADER, *rows, *good_rows(2)))
    bundle = build(path, tmp_path)
    assert bundle.skipped == [SkippedFile(f"row {n}", "empty text") for n in (1, 5, 13)]
    assert bundle.profile["rows_used"] == 21 and bundle.profile["skipped_empty"] == 3
    ids = {i for split in bundle.splits().values() for i in split.ids}
    assert not ids & {"row 1", "row 5", "row 13"} and "row 24" in ids


def test_non_utf8_bytes_name_line_and_row(write_csv: Callable, tmp_path: Path) -> None:
    head = csv_text(HEADER, '"two\nlines",negative', "fine,positive").encode()
    path = write_csv(head + b"caf\xe9 au lait,negative\n" + csv_text(*good_rows()).encode())
    message = error_of(path, tmp_path)
    assert message.startswith(f"{path} is not UTF-8 text: line 5 (data row 3) holds the bytes e9")


def test_non_utf8_header(write_csv: Callable, tmp_path: Path) -> None:
    path = write_csv(b"t\xffext,airline_sentiment\n" + csv_text(*good_rows()).encode())
    assert "line 1 (the header)" in error_of(path, tmp_path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not UTF-8 text: line 1 (the header) holds the bytes 89"),
        (b"text,airline_sentiment\nok\x00,negative\n", "is not a CSV text file: line 2 holds a NUL byte"),
        (csv_text(HEADER, "fine,negative", "too,many,fields").encode(),
         "row 2 (line 3) has 3 field(s) but the header has 2"),
        (csv_text(HEADER, '"a\nb",negative', "one field").encode(), "row 2 (line 4) has 1 field(s)"),
    ],
)
def test_not_a_csv(write_csv: Callable, tmp_path: Path, content: bytes, expected: str) -> None:
    path = write_csv(content)
    message = error_of(path, tmp_path)
    assert str(path) in message and expected in message


def test_one_class_only(write_csv: Callable, tmp_path: Path) -> None:
    path = write_csv(csv_text(HEADER, *(f"bad {i},negative" for i in range(20)), ",positive"))
    message = error_of(path, tmp_path)
    assert re.search(rf"{re.escape(str(path))}: column 'airline_sentiment' holds 1 class\(es\) \('negative'\) in the "
                     r"20 usable row\(s\) of 21 \(1 with empty text left out\); a classifier needs at least 2", message)


def test_binary_leaving_one_class(write_csv: Callable, tmp_path: Path) -> None:
    path = write_csv(csv_text(HEADER, *(f"bad {i},negative" for i in range(5)), *(f"hm {i},neutral" for i in range(5))))
    message = error_of(path, tmp_path, binary=True)
    assert "holds 1 class(es) ('negative')" in message and "5 neutral (data.options.binary)" in message


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"colour": "red"}, "data.options.colour: unknown option; known: text_column, label_column"),
        ({"min_freq": 0}, "data.options.min_freq: Input should be greater than or equal to 1 (got 0)"),
        ({"max_vocab": 2}, "data.options.max_vocab"),
        ({"max_len": 0}, "data.options.max_len"),
        ({"length_percentile": 0}, "data.options.length_percentile"),
        ({"length_percentile": 101}, "data.options.length_percentile"),
        ({"binary": "yes"}, "data.options.binary"),
        ({"labels": ["a"]}, "data.options.labels"),
        ({"group_columns": "airline"}, "data.options.group_columns"),
        ({"tokenizer": "bert"}, "data.options.tokenizer: unknown tokenizer 'bert'; known: "),
    ],
)
def test_bad_options_name_the_key(write_csv: Callable, tmp_path: Path, options: dict, expected: str) -> None:
    path = write_csv(csv_text(HEADER, *good_rows()))
    message = error_of(path, tmp_path, **options)
    assert message.startswith("invalid data.options.") and expected in message


def test_two_bad_options_in_one_message(write_csv: Callable, tmp_path: Path) -> None:
    path = write_csv(csv_text(HEADER, *good_rows()))
    message = error_of(path, tmp_path, min_freq=-1, colour=1)
    assert "data.options.min_freq" in message and "data.options.colour" in message


def test_bom_crlf_and_blank_lines(write_csv: Callable, tmp_path: Path) -> None:
    rows = good_rows()
    content = "\ufeff" + "\r\n".join([HEADER, *rows[:5], "", *rows[5:]]) + "\r\n\r\n"
    bundle = build(write_csv(content), tmp_path)
    assert bundle.profile["rows_read"] == 20  # blank lines are not rows
    texts = {i: t for split in bundle.splits().values() for i, t in zip(split.ids, split.texts, strict=True)}
    assert texts["row 6"] == "so bad 5" and texts["row 20"] == "so good 9"


def test_missing_column_hint_for_another_case(write_csv: Callable, tmp_path: Path) -> None:
    path = write_csv(csv_text("Text,airline_sentiment", *good_rows()))
    assert error_of(path, tmp_path).endswith("its columns are 'Text', 'airline_sentiment'; did you mean 'Text'?")
