"""The text EDA figures: written, non-blank, and drawn in the colours of what they show."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from trainlab.config import DataConfig
from trainlab.data import build_dataset
from trainlab.data.bundle import DataBundle
from trainlab.report.eda_text import CAP_COLOR, HIST_COLOR, PALETTE, SENTIMENT_COLORS, SPLIT_COLORS, plot_text_eda


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> DataBundle:
    path = Path(__file__).parent / "fixtures" / "tweets_small.csv"
    cfg = DataConfig(source="airline", path=path, options={"length_percentile": 80.0})
    return build_dataset(cfg, tmp_path_factory.mktemp("cache"))


def test_text_eda_figures(bundle: DataBundle, tmp_path: Path, pixel_count: Callable[..., int]) -> None:
    figures = plot_text_eda(bundle.profile, bundle.classes, bundle.counts(), tmp_path / "eda")
    names = [name for name, _ in figures]
    assert names == ["class_balance.png", "by_airline.png", "by_negativereason.png", "token_lengths.png"]
    for name, caption in figures:
        path = tmp_path / "eda" / name
        assert path.is_file() and caption.endswith(".")
        width, height = Image.open(path).size
        assert 500 <= width <= 1300 and height >= 250
    balance = tmp_path / "eda" / "class_balance.png"
    assert all(pixel_count(balance, color) > 2000 for color in SPLIT_COLORS.values())
    by_airline = tmp_path / "eda" / "by_airline.png"
    assert all(pixel_count(by_airline, color) > 1000 for color in SENTIMENT_COLORS.values())
    reasons = tmp_path / "eda" / "by_negativereason.png"
    assert pixel_count(reasons, SENTIMENT_COLORS["negative"]) > 3000
    assert pixel_count(reasons, SENTIMENT_COLORS["positive"]) < 50  # only negative rows have a reason
    lengths = tmp_path / "eda" / "token_lengths.png"
    assert pixel_count(lengths, HIST_COLOR) > 3000 and pixel_count(lengths, CAP_COLOR) > 200
    cap, percent = bundle.profile["max_len"], 100 * bundle.profile["truncated"]["fraction"]
    assert f"cap {cap} (p80, {percent:.1f}% truncated)" in dict(figures)["token_lengths.png"]


def test_group_without_values_and_other_classes(bundle: DataBundle, tmp_path: Path,
                                                pixel_count: Callable[..., int]) -> None:
    profile = copy.deepcopy(bundle.profile)
    renamed = {"negative": "cats", "neutral": "dogs", "positive": "owls"}
    profile["groups"] = {
        "only_empty": {"": {"cats": 5, "dogs": 2, "owls": 1}},
        "shop": {"a b": {"cats": 4, "dogs": 0, "owls": 1}, "c": {"cats": 1, "dogs": 3, "owls": 0}},
    }
    counts = {split: {renamed[k]: v for k, v in by_class.items()} for split, by_class in bundle.counts().items()}
    figures = plot_text_eda(profile, list(renamed.values()), counts, tmp_path)
    assert [name for name, _ in figures] == ["class_balance.png", "by_shop.png", "token_lengths.png"]
    assert not (tmp_path / "by_only_empty.png").exists()
    shop = tmp_path / "by_shop.png"
    assert pixel_count(shop, PALETTE[0]) > 1000 and pixel_count(shop, PALETTE[1]) > 1000


def test_explicit_cap_label(bundle: DataBundle, tmp_path: Path) -> None:
    profile = {**bundle.profile, "max_len": 9, "max_len_from": "data.options.max_len", "groups": {}}
    figures = dict(plot_text_eda(profile, bundle.classes, bundle.counts(), tmp_path))
    assert "cap 9 (set by data.options.max_len, " in figures["token_lengths.png"]
