from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from trainlab.errors import TrainlabError
from trainlab.report import compare, load_run, render
from trainlab.report.render import (
    fmt_duration,
    fmt_epochs,
    fmt_interval,
    fmt_pct,
    fmt_pp,
    fmt_reading,
    md_cell,
    report_environment,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SKIPPED_PATH = "raw/dog/broken_001.jpg"  # as written by the fake_run fixture


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, make_run: Callable[..., Path]) -> tuple[Path, str, str]:
    run_dir = make_run(tmp_path_factory.mktemp("rendered") / "run")
    html_path, md_path = render(run_dir)
    assert html_path == run_dir / "report.html"
    assert md_path == run_dir / "report.md"
    return run_dir, html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")


def test_html_is_self_contained(rendered: tuple[Path, str, str]) -> None:
    _, html, _ = rendered
    # 2 finished variants x (accuracy, loss, confusion) + the comparison chart.
    assert html.count('<img src="data:image/png;base64,') == 7
    assert not re.search(r'(src|href)="(https?:|//|[\w./-]+\.(png|css|js)")', html)
    assert "<style>" in html
    assert "<script" not in html


def test_html_lists_variants_classes_and_data(rendered: tuple[Path, str, str]) -> None:
    _, html, _ = rendered
    for text in (
        "Variant: base",
        "Variant: +l2",
        "Variant: +dropout",
        "cat",
        "dog",
        SKIPPED_PATH,
        "cpu (2 threads)",
        "32-true",
        "2.14.1",
        "1 min 05.0 s",
        "3×8×8",
    ):
        assert text in html, text
    # counts table total row: train 201, val 43, test 40, all 284
    assert re.search(r"Total</td>.*201.*43.*40.*284", html)


def test_impact_table_numbers(rendered: tuple[Path, str, str]) -> None:
    _, html, md = rendered
    for text in ("80.00%", "82.50%", "95.00%", "+2.50 pp", "+15.00 pp", "+7.50 pp", "0.5123"):
        assert text in html, text
        assert text in md, text
    lines = md.splitlines()
    header = next(line for line in lines if line.startswith("| Variant | Techniques | Epochs (best) |"))
    delta = [cell.strip() for cell in header.split("|")].index("Δ test acc vs base")
    base_row = next(line for line in lines if line.startswith("| base |"))
    assert base_row.split("|")[delta].strip() == "—"  # Δ column of the base row
    l2_row = next(line for line in lines if line.startswith("| +l2 |"))
    assert "| 82.50% |" in l2_row and l2_row.split("|")[delta].strip() == "+2.50 pp" and "| l2 |" in l2_row
    assert "| 4 (2) |" in l2_row  # epochs run (best epoch)


def test_unfinished_variant_is_not_run(rendered: tuple[Path, str, str]) -> None:
    run_dir, html, md = rendered
    assert re.search(r"<td>\+dropout</td><td>l2, dropout</td><td colspan=\"11\">not run</td>", html)
    assert any(line.startswith("| +dropout |") and "not run" in line for line in md.splitlines())
    assert not (run_dir / "plus-dropout" / "plots").exists()


def test_html_and_markdown_both_escape_names(rendered: tuple[Path, str, str]) -> None:
    _, html, md = rendered
    assert "&lt;b&gt;x" in html
    assert "<b>x" not in html
    assert "Regularization &amp; friends" in html
    # A class or file name is text in Markdown too: no raw HTML, emphasis or broken table cells.
    assert "| &lt;b&gt;x |" in md and "<b>x" not in md
    assert "Regularization & friends" in md  # the recipe's description is the author's own Markdown
    env = report_environment()
    assert env.autoescape("report.html.j2") is True  # type: ignore[operator]
    assert env.autoescape("report.md.j2") is False  # type: ignore[operator]


def test_markdown_references_existing_pngs(rendered: tuple[Path, str, str]) -> None:
    run_dir, _, md = rendered
    targets = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert "plus-l2/plots/accuracy.png" in targets
    assert "plots/comparison.png" in targets
    assert len(targets) == 7
    for target in targets:
        assert (run_dir / target).read_bytes().startswith(PNG_MAGIC), target
    assert "base64" not in md


def test_model_summary_shown_once_when_params_match(rendered: tuple[Path, str, str]) -> None:
    _, html, md = rendered
    assert html.count("SUMMARY OF base") == 1 and "SUMMARY OF plus-l2" not in html
    assert md.count("SUMMARY OF base") == 1


def test_missing_plots_are_regenerated_and_existing_kept(fake_run: Path) -> None:
    render(fake_run)
    confusion = fake_run / "base" / "plots" / "confusion.png"
    accuracy = fake_run / "plus-l2" / "plots" / "accuracy.png"
    assert confusion.read_bytes().startswith(PNG_MAGIC)
    confusion.unlink()
    accuracy.write_bytes(PNG_MAGIC + b"kept")
    render(fake_run)
    assert confusion.read_bytes().startswith(PNG_MAGIC)
    assert accuracy.read_bytes() == PNG_MAGIC + b"kept"


def test_load_run_is_plain_data(fake_run: Path) -> None:
    run = load_run(fake_run)
    json.dumps(run)  # plain dicts, lists, numbers and strings only
    by_name = {v["name"]: v for v in run["variants"]}
    assert [v["status"] for v in run["variants"]] == ["done", "done", "not run"]
    assert by_name["base"]["delta_pp"] is None and by_name["base"]["is_base"]
    assert by_name["+l2"]["delta_pp"] == pytest.approx(2.5)
    assert by_name["base"]["gap_pp"] == pytest.approx(15.0)
    assert run["data"]["totals"] == {"train": 201, "val": 43, "test": 40, "total": 284}
    assert [row["class"] for row in run["data"]["counts"]] == ["cat", "dog", "<b>x"]
    assert len(by_name["base"]["history"]) == 4
    assert run["shared_summary"].startswith("SUMMARY OF base")


def test_different_params_show_summary_per_variant(fake_run: Path) -> None:
    path = fake_run / "plus-l2" / "metrics.json"
    payload = json.loads(path.read_text())
    payload["params"] = 999
    path.write_text(json.dumps(payload))
    assert load_run(fake_run)["shared_summary"] is None
    html = render(fake_run)[0].read_text()
    assert "SUMMARY OF base" in html and "SUMMARY OF plus-l2" in html


def test_base_not_run_gives_no_delta(fake_run: Path) -> None:
    (fake_run / "base" / "metrics.json").unlink()
    run = load_run(fake_run)
    assert run["variants"][1]["delta_pp"] is None
    md = render(fake_run)[1].read_text()
    assert "| base | none | not run |" in md


def test_missing_study_json(tmp_path: Path) -> None:
    with pytest.raises(TrainlabError) as info:
        render(tmp_path)
    assert str(info.value) == f"{tmp_path} is not a trainlab run folder: study.json is missing"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not readable JSON"),
        ("[1, 2]", "expected an object"),
        (None, "'test.accuracy' is missing"),
        ("bad-type", "'params' is 'many': Input should be a valid integer"),
    ],
)
def test_malformed_metrics_json_names_the_file(fake_run: Path, content: str | None, expected: str) -> None:
    path = fake_run / "plus-l2" / "metrics.json"
    payload = json.loads(path.read_text())
    if content is None:
        del payload["test"]["accuracy"]
        content = json.dumps(payload)
    elif content == "bad-type":
        payload["params"] = "many"
        content = json.dumps(payload)
    path.write_text(content)
    with pytest.raises(TrainlabError, match=re.escape(str(path))) as info:
        render(fake_run)
    assert expected in str(info.value)
    assert not (fake_run / "report.html").exists() and not (fake_run / "report.md").exists()


def test_bad_history_and_folder_names(fake_run: Path) -> None:
    history = fake_run / "base" / "history.csv"
    history.write_text("epoch,train_loss\n0,1.0\n")
    with pytest.raises(TrainlabError, match="lacks the column"):
        load_run(fake_run)
    study_path = fake_run / "study.json"
    study = json.loads(study_path.read_text())
    study["variants"][0]["folder"] = "../elsewhere"
    study_path.write_text(json.dumps(study))
    with pytest.raises(TrainlabError, match="plain relative folder name"):
        load_run(fake_run)


def test_compare_two_runs(tmp_path: Path, make_run: Callable[..., Path]) -> None:
    run_a = make_run(tmp_path / "a")
    run_b = make_run(tmp_path / "b", base_matrix=[[13, 1, 0], [1, 11, 1], [1, 2, 10]], name="second")
    table = compare(run_a, run_b)
    base_row = next(line for line in table.splitlines() if line.startswith("| base |"))
    assert "| 80.00% | 85.00% | +5.00 pp |" in base_row
    assert "| +l2 | 82.50% | 82.50% | +0.00 pp |" in table
    assert "| +dropout | not run | not run |" in table
    assert "second" in table


def test_compare_without_common_variants(tmp_path: Path, make_run: Callable[..., Path]) -> None:
    run_a = make_run(tmp_path / "a")
    run_b = make_run(tmp_path / "b")
    study = json.loads((run_b / "study.json").read_text())
    for variant in study["variants"]:
        variant["name"] = "other " + variant["name"]
    (run_b / "study.json").write_text(json.dumps(study))
    with pytest.raises(TrainlabError, match="no variant names in common"):
        compare(run_a, run_b)


def test_formatters() -> None:
    assert fmt_pct(0.825) == "82.50%"
    assert fmt_pct(None) == "—"
    assert fmt_pp(2.5) == "+2.50 pp"
    assert fmt_pp(-1.2) == "-1.20 pp"
    assert fmt_pp(-0.0) == "+0.00 pp"
    assert fmt_pp(None) == "—"
    assert fmt_duration(12.34) == "12.3 s"
    assert fmt_duration(3725) == "1 h 02 min 05 s"
    assert fmt_duration(59.96) == "1 min 00.0 s"  # rounded before splitting: never "60.0 s"
    assert fmt_duration(3599.97) == "1 h 00 min 00 s"
    assert fmt_duration(119.99) == "2 min 00.0 s"
    assert fmt_interval({"low": -0.4, "high": 2.8}) == "[-0.40, +2.80] pp"
    assert fmt_interval({"low": 0.812, "high": 0.847}, "%") == "[81.20%, 84.70%]"
    assert fmt_interval(None) == "—"
    assert fmt_reading({"low": -0.4, "high": 2.8, "excludes_zero": False}) == "within seed noise"
    assert fmt_reading({"low": 0.3, "high": 2.8, "excludes_zero": True}) == "better than base"
    assert fmt_epochs(7.0) == "7" and fmt_epochs(7.25) == "7.2"
    assert md_cell("a|b\nc") == "a\\|b c"


def test_report_command_prints_paths_with_brackets_as_they_are(fake_run: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from trainlab.cli import app

    odd = tmp_path / "run [bold] [/x]"
    shutil.copytree(fake_run, odd)
    result = CliRunner().invoke(app, ["report", str(odd)])
    assert result.exit_code == 0, result.output
    assert str(odd / "report.html") in result.output.replace("\n", "")

