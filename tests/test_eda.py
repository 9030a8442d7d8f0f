"""``trainlab eda``: a dataset's figures and facts without training, for texts and images, and one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainlab.cli import app
from trainlab.config import DataConfig
from trainlab.data import build_dataset
from trainlab.eda import new_eda_dir

FIXTURE_CSV = Path(__file__).parent / "data" / "text" / "fixtures" / "tweets_small.csv"
TEXT_FIGURES = {"plots/class_balance.png", "plots/by_airline.png", "plots/by_negativereason.png",
                "plots/token_lengths.png"}


def _eda(*args: str | Path) -> tuple[Path, Path]:
    result = CliRunner().invoke(app, ["eda", *map(str, args)])
    assert result.exit_code == 0, result.output
    html, markdown = (Path(line) for line in result.stdout.splitlines())
    assert (html.name, markdown.name) == ("eda.html", "eda.md") and html.parent == markdown.parent
    return html, markdown


def _error(*args: str | Path) -> str:
    result = CliRunner().invoke(app, ["eda", *map(str, args)])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def _figures(markdown: Path) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown.read_text(encoding="utf-8"))


def test_text_eda_writes_its_figures_counts_and_facts(tmp_path: Path) -> None:
    html, markdown = _eda("airline", "--data", FIXTURE_CSV, "--out", tmp_path)
    assert html.parent.parent == tmp_path and html.parent.name.startswith("airline-")
    figures = _figures(markdown)
    assert set(figures) == TEXT_FIGURES
    assert all((markdown.parent / path).stat().st_size > 1000 for path in figures)
    page = html.read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == len(figures)  # embedded: the page stands alone

    bundle = build_dataset(DataConfig(source="airline", path=FIXTURE_CSV), tmp_path / "cache")
    text = markdown.read_text(encoding="utf-8")
    counts = bundle.counts()
    for name in bundle.classes:
        cells = [counts[split][name] for split in ("train", "val", "test")]
        assert f"| {name} | {' | '.join(map(str, cells))} | {sum(cells)} |" in text
    assert "| Skipped | 2 |" in text and "- row 6: empty text" in text
    assert f"| Vocabulary | {bundle.profile['vocab_size']} tokens (min\\_freq 2," in text
    assert f"| Length cap | {bundle.profile['max_len']} tokens (p95 of the train texts' token lengths) |" in text
    assert "| Unknown-token rate | train " in text and "| max\\_len |" in text
    assert "<th>Vocabulary</th>" in page and "texts&#39; token lengths" in page  # escaped HTML


def test_set_changes_the_data_options_and_recipes_lend_their_data(tmp_path: Path) -> None:
    _, markdown = _eda("airline", "--data", FIXTURE_CSV, "--out", tmp_path, "--set", "data.options.min_freq=1")
    bundle = build_dataset(DataConfig(source="airline", path=FIXTURE_CSV, options={"min_freq": 1}), tmp_path)
    assert f"| Vocabulary | {bundle.profile['vocab_size']} tokens (min\\_freq 1," in markdown.read_text()
    _, from_recipe = _eda("airline-lstm", "--data", FIXTURE_CSV, "--out", tmp_path)
    assert from_recipe.parent.name.startswith("airline-lstm-")
    assert set(_figures(from_recipe)) == TEXT_FIGURES


def test_image_sources_show_their_sample_gallery(tmp_path: Path) -> None:
    _, markdown = _eda("digits", "--out", tmp_path, "--set", "data.image_size=8", "--set", "data.channels=1")
    assert _figures(markdown) == ["plots/samples.png"]
    assert (markdown.parent / "plots" / "samples.png").is_file()
    text = markdown.read_text()
    assert "| total | 1,257 | 270 | 270 | 1,797 |" in text and "| Image shape (C×H×W) | 1×8×8 |" in text


def test_each_eda_gets_its_own_folder(tmp_path: Path) -> None:
    first, second = new_eda_dir(tmp_path, "airline"), new_eda_dir(tmp_path, "air line/..")
    assert first != second and first.is_dir() and second.is_dir()
    assert re.fullmatch(r"air-line-\d{8}-\d{6}", second.name)


def test_mistakes_are_one_line(tmp_path: Path) -> None:
    message = _error("tweets", "--out", tmp_path)
    assert ("unknown source 'tweets'; data sources: airline, co2, digits, image_folder, retail, text_csv; "
            "packaged recipes: airline-bilstm, airline-lstm,") in message
    assert "the airline dataset reads one CSV file: pass --data" in _error("airline", "--out", tmp_path)
    assert "trainlab eda reads data only" in _error("airline", "--data", FIXTURE_CSV, "--set", "model.name=lstm")
    assert list(tmp_path.iterdir()) == []  # no folder for a failed eda


@pytest.mark.parametrize("source", ["airline", "text_csv"])
def test_a_missing_csv_names_it(source: str, tmp_path: Path) -> None:
    assert f"data file {tmp_path / 'no.csv'} does not exist" in _error(source, "--data", tmp_path / "no.csv",
                                                                         "--out", tmp_path / "out")
