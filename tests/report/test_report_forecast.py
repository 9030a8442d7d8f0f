"""The report of a forecasting (regression) run: columns from the primary metric (WMAE, lower is better), the verdict
against the naive baselines in the first paragraph, forecast figures instead of confusion matrices."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
from forecast_run import DEEP_LOSES, DEEP_WINS, TOO_SHORT

from trainlab.errors import TrainlabError
from trainlab.report import compare, load_run, plot_variant, render
from trainlab.report.forecast import PREDICTED_COLOR, TRUE_COLOR, forecast_panels, split_rows
from trainlab.report.formats import fmt_amount, fmt_delta, fmt_reading, fmt_span, fmt_value
from trainlab.report.metric import metric_descriptor
from trainlab.report.plots import TRAIN_COLOR, VAL_COLOR, plot_study_comparison, read_history

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WINS = ("The best deep model, +lstm (WMAE 1,405 sales, mean of 2 seeds), beats the best naive baseline, "
        "mean_last_4 (WMAE 1,669 sales), by 15.8%.")
LOSES = ("No deep model beats the best naive baseline: the best, base (WMAE 1,710 sales, mean of 2 seeds), is 2.5% "
         "worse than mean_last_4 (WMAE 1,669 sales).")
CLASSIFICATION_WORDS = ("accuracy", "confusion", "mcnemar", "macro f1", "misclassified", "per-class", "class</th>",
                        "| class |")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, make_forecast_run: Callable[..., Path]) -> tuple[Path, str, str]:
    run_dir = make_forecast_run(tmp_path_factory.mktemp("forecast") / "run")
    html_path, md_path = render(run_dir)
    return run_dir, html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")


def _first_paragraph_md(md: str) -> str:
    """The first paragraph after the title, with Markdown's escapes undone."""
    body = md.split("\n", 1)[1].strip()
    return body.split("\n\n", 1)[0].replace("\\", "")


def _first_paragraph_html(html: str) -> str:
    return unescape(re.search(r"<p[^>]*>(.*?)</p>", html.split("<h1>", 1)[1], re.S).group(1))


def test_load_run_scores_follow_the_metric_direction(tmp_path: Path, make_forecast_run: Callable[..., Path]) -> None:
    run = load_run(make_forecast_run(tmp_path / "run"))
    json.dumps(run)  # plain data only
    assert run["task"] == "regression"
    assert run["metric"] == {"name": "wmae", "label": "WMAE", "higher_is_better": False, "unit": "sales",
                             "fraction": False, "header": "WMAE (sales)"}
    base, lstm, dropout = run["variants"]
    assert dropout["status"] == "not run"
    assert base["score"] == pytest.approx(1452.0) and base["delta"] is None and base["better"] is None
    assert lstm["score"] == pytest.approx(1405.0) and lstm["train_score"] == pytest.approx(1124.0)
    assert lstm["delta"] == pytest.approx(-47.0)  # lower WMAE: a negative Δ is an improvement
    assert lstm["delta_interval"]["high"] < 0 and lstm["better"] is True
    assert lstm["score_interval"]["low"] > 1000  # units, not clipped to [0, 1] as a fraction would be
    assert lstm["regression"]["wmae"] == pytest.approx(1405.0) and lstm["regression"]["count"] == 30
    assert set(lstm["regression_interval"]) == {"wmae", "rmse", "r2"}
    for key in ("test_accuracy", "delta_pp", "gap_pp", "per_class", "confusion_matrix", "mcnemar"):
        assert key not in lstm, key
    assert len(lstm["history"]) == 3 and "val_wmae" in lstm["history"][0]


def test_baselines_are_sorted_best_first_and_marked_naive(tmp_path: Path,
                                                          make_forecast_run: Callable[..., Path]) -> None:
    baselines = load_run(make_forecast_run(tmp_path / "run"))["baselines"]
    rows = baselines["rows"]
    assert [row["name"] for row in rows] == ["linear", "mean_last_4", "seasonal_naive", "last_value"]
    assert [row["naive"] for row in rows] == [False, True, True, True]
    assert rows[0]["score"] == rows[0]["wmae"] == 1500.0 and "accuracy" not in rows[0]
    assert baselines["base_lift"] == pytest.approx(1452.0 - 1500.0)
    assert baselines["base_lift_relative"] == pytest.approx(48.0 / 1500.0)  # positive: the base is better


@pytest.mark.parametrize(("wmae", "expected"), [(DEEP_WINS, WINS), (DEEP_LOSES, LOSES)])
def test_the_verdict_is_the_reports_first_paragraph(tmp_path: Path, make_forecast_run: Callable[..., Path],
                                                    wmae: dict[str, tuple[float, float]], expected: str) -> None:
    run_dir = make_forecast_run(tmp_path / "run", wmae=wmae)
    assert load_run(run_dir)["verdict"] == expected
    html_path, md_path = render(run_dir)
    assert _first_paragraph_md(md_path.read_text()) == expected
    assert _first_paragraph_html(html_path.read_text()) == expected


def test_the_verdict_without_baselines_or_finished_variants(tmp_path: Path,
                                                            make_forecast_run: Callable[..., Path]) -> None:
    run_dir = make_forecast_run(tmp_path / "none", baselines=False)
    run = load_run(run_dir)
    assert run["verdict"] == "No naive baseline was fitted, so this report cannot say whether a deep model beats one."
    assert run["baselines"] is None
    assert _first_paragraph_md(render(run_dir)[1].read_text()) == run["verdict"]
    run_dir = make_forecast_run(tmp_path / "unfinished", wmae={})
    run = load_run(run_dir)
    assert run["verdict"].startswith("No deep model finished, so none can be compared with the best naive baseline, "
                                     "mean_last_4 (WMAE 1,669 sales)")
    assert "*not run*" in render(run_dir)[1].read_text()


def test_regression_report_shows_no_classification_blocks(rendered: tuple[Path, str, str]) -> None:
    _, html, md = rendered
    for text in (html.lower(), md.lower()):
        for word in CLASSIFICATION_WORDS:
            assert word not in text, word


def test_regression_report_tables(rendered: tuple[Path, str, str]) -> None:
    _, html, md = rendered
    lines = md.splitlines()
    header = next(line for line in lines if line.startswith("| Variant | Techniques |"))
    cells = [cell.strip() for cell in header.split("|")]
    for column in ("Test WMAE (sales)", "95% interval", "RMSE (sales)", "MAE (sales)", "R²", "Δ test WMAE vs base",
                   "Time"):
        assert column in cells, column
    lstm = [cell.strip() for cell in next(line for line in lines if line.startswith("| +lstm | lstm |")).split("|")]
    assert lstm[cells.index("Test WMAE (sales)")] == "1,405"
    assert lstm[cells.index("Δ test WMAE vs base")] == "-47.00"
    assert lstm[cells.index("Reading")] == "better than base"
    assert lstm[cells.index("R²")] == "0.9571"
    dropout = next(line for line in lines if line.startswith("| +dropout |"))
    assert dropout.count("|") == header.count("|")  # a not-run row has every cell
    assert '<td class="num pos">-47.00</td>' in html  # lower is better: a negative Δ is green
    assert "| baseline: mean\\_last\\_4 | 0.3338 | 0.2086 | 0.8123 |" in md  # the scaled metrics
    assert "| mean\\_last\\_4 | the mean of the last 4 weeks | yes | 1,669 |" in md
    assert "The base variant's test WMAE is -48.00 sales against the best baseline (linear, 1,500 sales): better by " \
           "3.20%." in md


def test_regression_report_data_section(rendered: tuple[Path, str, str]) -> None:
    _, html, md = rendered
    for text in ("| test | 2012-09-28 | 2012-10-26 | 30 |", "| train | 2010-02-05 | 2012-05-11 | 540 |",
                 "Series: 6 used of 8 (one per store and dept)", f"Too short: 2 series too short for one window: "
                 f"{', '.join(TOO_SHORT)}", "Windows: 8 past weeks in, the next 1 week predicted",
                 "Known future inputs: IsHoliday, lag\\_52", "Scaler: per series"):
        assert text in md, text
    assert "<tr><td>val</td><td>2012-05-18</td><td>2012-09-21</td>" in html


def test_regression_report_figures(rendered: tuple[Path, str, str]) -> None:
    run_dir, html, md = rendered
    targets = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    for name in ("wmae", "loss", "forecast", "residuals"):
        assert f"plus-lstm/seed-0/plots/{name}.png" in targets, name
    assert "plots/comparison.png" in targets and len(targets) == 9
    for target in targets:
        assert (run_dir / target).read_bytes().startswith(PNG_MAGIC), target
    assert html.count('<img src="data:image/png;base64,') == 9


def test_plot_variant_writes_the_forecast_figures(tmp_path: Path, make_forecast_run: Callable[..., Path],
                                                  pixel_count: Callable[..., int]) -> None:
    variant_dir = make_forecast_run(tmp_path / "run") / "base" / "seed-0"
    paths = plot_variant(variant_dir)  # the metric comes from the study.json two folders up
    assert [p.name for p in paths] == ["wmae.png", "loss.png", "forecast.png", "residuals.png"]
    assert all(p.parent == variant_dir / "plots" and p.read_bytes().startswith(PNG_MAGIC) for p in paths)
    wmae, _, forecast, residuals = paths
    assert pixel_count(wmae, TRAIN_COLOR) > 400 and pixel_count(wmae, VAL_COLOR) > 400
    assert pixel_count(forecast, PREDICTED_COLOR) > 1000 and pixel_count(forecast, TRUE_COLOR, 10) > 1000
    assert pixel_count(residuals, PREDICTED_COLOR) > 500
    (variant_dir / "predictions.csv").unlink()
    assert [p.name for p in plot_variant(variant_dir)] == ["wmae.png", "loss.png"]  # no predictions, no forecast


def test_forecast_panels_count_each_series_and_date_once() -> None:
    """Overlapping windows of horizon 2: a date reached by step 1 of one window and step 2 of another keeps step 1."""
    rows = [  # (index, series, date, step, true, predicted)
        (0, "a", "2024-01-07", 1, 10.0, 11.0), (0, "a", "2024-01-14", 2, 20.0, 25.0),
        (1, "a", "2024-01-14", 1, 20.0, 21.0), (1, "a", "2024-01-21", 2, 30.0, 33.0),
        (0, "b", "2024-01-07", 1, 1.0, 2.0), (0, "b", "2024-01-14", 2, 2.0, 2.5),
    ]
    table = pd.DataFrame(rows, columns=["index", "series", "date", "step", "true", "predicted"])
    (chain_title, chain), (first, series_a), (second, _) = forecast_panels(table)
    assert chain_title.startswith("chain total") and (first, second) == ("a", "b")  # a: the larger series
    assert chain.loc["2024-01-14"].tolist() == [22.0, 23.5]  # a's step 1 (21) + b's only prediction (2.5)
    assert series_a["predicted"].tolist() == [11.0, 21.0, 33.0]
    assert forecast_panels(table.iloc[:0]) == []


def test_history_columns_follow_the_metric(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text("epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr\n1,1,0.5,1,0.5,0.1\n")
    assert len(read_history(path)) == 1
    with pytest.raises(TrainlabError, match=r"lacks the column.*train_wmae, val_wmae"):
        read_history(path, "wmae")


def test_compare_two_forecasting_runs(tmp_path: Path, make_forecast_run: Callable[..., Path]) -> None:
    run_a = make_forecast_run(tmp_path / "a")
    run_b = make_forecast_run(tmp_path / "b", wmae=DEEP_LOSES, name="second")
    table = compare(run_a, run_b)
    assert "WMAE and RMSE in sales; lower is better, so a negative Δ means B is better." in table
    assert "| Variant | Test WMAE A | Test WMAE B | Δ WMAE (B − A) | RMSE A |" in table
    assert "| base | 1,452 | 1,710 | +258.0 | 2,323 | 2,736 | 0.9567 | 0.9541 |" in table
    assert "| +dropout | not run | not run | — |" in table
    assert "accuracy" not in table.lower()


def test_compare_refuses_runs_of_different_tasks(tmp_path: Path, make_forecast_run: Callable[..., Path],
                                                 make_run: Callable[..., Path]) -> None:
    forecast, classifier = make_forecast_run(tmp_path / "f"), make_run(tmp_path / "c")
    with pytest.raises(TrainlabError, match=r"^\S+/c is a classification run and \S+/f a regression run: their "
                                            "metrics measure different tasks, so they cannot be compared$"):
        compare(classifier, forecast)
    study = json.loads((forecast / "study.json").read_text())
    study["primary"]["unit"] = "ppm"
    (tmp_path / "g").mkdir()
    for item in forecast.iterdir():
        (tmp_path / "g" / item.name).symlink_to(item)
    (tmp_path / "g" / "study.json").unlink()
    (tmp_path / "g" / "study.json").write_text(json.dumps(study))
    with pytest.raises(TrainlabError, match=r"judged by different metrics \(WMAE \(sales\) vs WMAE \(ppm\)\)"):
        compare(forecast, tmp_path / "g")


def test_one_seed_has_no_intervals(tmp_path: Path, make_forecast_run: Callable[..., Path]) -> None:
    run_dir = make_forecast_run(tmp_path / "run")
    study = json.loads((run_dir / "study.json").read_text())
    study["seeds"] = [0]
    for variant in study["variants"]:
        variant["runs"] = variant["runs"][:1]
    (run_dir / "study.json").write_text(json.dumps(study))
    run = load_run(run_dir)
    lstm = run["variants"][1]
    assert lstm["delta"] == pytest.approx(-50.0) and lstm["delta_interval"] is None and lstm["better"] is None
    assert run["verdict"].startswith("The best deep model, +lstm (WMAE 1,400 sales), beats")
    md = render(run_dir)[1].read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Variant | Techniques |"))
    assert "95% interval" not in header
    dropout = next(line for line in md.splitlines() if line.startswith("| +dropout |"))
    assert dropout.count("|") == header.count("|")


def test_plot_study_comparison_of_a_metric_in_units(tmp_path: Path, pixel_count: Callable[..., int]) -> None:
    metric = metric_descriptor({"name": "wmae", "higher_is_better": False, "unit": "sales"})
    rows = [{"name": "base", "score": 1452.0, "score_interval": {"low": 1427.0, "high": 1477.0}},
            {"name": "+lstm", "score": 1405.0, "score_interval": None}, {"name": "+gru", "score": None}]
    path = plot_study_comparison(rows, tmp_path / "comparison.png", metric, ("mean_last_4", 1669.0))
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert pixel_count(path, TRAIN_COLOR) > 1000 and pixel_count(path, VAL_COLOR) > 50  # bars, baseline line


def test_formatters_of_values_in_units() -> None:
    sales = metric_descriptor({"name": "wmae", "higher_is_better": False, "unit": "sales"})
    ppm = metric_descriptor({"name": "wmae", "higher_is_better": False, "unit": "ppm"})
    accuracy = metric_descriptor({})
    assert fmt_amount(1452.4) == "1,452" and fmt_amount(12.345) == "12.35" and fmt_amount(0.53219) == "0.5322"
    assert fmt_amount(0.0) == "0" and fmt_amount(None) == "—" and fmt_amount(float("nan")) == "n/a"
    assert fmt_value(1452.4, sales, unit=True) == "1,452 sales" and fmt_value(0.5321, ppm, unit=True) == "0.5321 ppm"
    assert fmt_value(0.825, accuracy) == "82.50%" and accuracy["header"] == "accuracy"
    assert fmt_delta(-47.0, sales) == "-47.00" and fmt_delta(258.0, sales) == "+258.0" and fmt_delta(2.5, accuracy) \
        == "+2.50 pp"
    assert fmt_span({"low": 1427.2, "high": 1477.0}, sales) == "[1,427, 1,477]"
    assert fmt_span({"low": -85.1, "high": -8.88}, sales, signed=True) == "[-85.10, -8.880]"
    assert fmt_span({"low": 0.812, "high": 0.847}, accuracy) == "[81.20%, 84.70%]"
    interval = {"low": -85.1, "high": -8.9, "excludes_zero": True}
    assert fmt_reading(interval, higher_is_better=False) == "better than base"
    assert fmt_reading(interval) == "worse than base"


def test_split_rows_fall_back_to_the_counts() -> None:
    data = {"profile": {}, "counts": [{"class": "windows", "train": 5, "val": 2, "test": 1}]}
    assert split_rows(data)[0] == {"split": "train", "first": None, "last": None, "windows": 5}


def test_one_series_has_no_chain_total() -> None:
    table = pd.DataFrame({"series": ["co2"] * 3, "date": ["2000-01-08", "2000-01-15", "2000-01-22"],
                          "step": [1, 1, 1], "true": [369.0, 369.5, 370.0], "predicted": [368.0, 369.0, 371.0]})
    ((title, values),) = forecast_panels(table)
    assert title == "co2" and values["predicted"].tolist() == [368.0, 369.0, 371.0]
