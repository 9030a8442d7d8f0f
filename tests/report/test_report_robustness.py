"""What a report must get right beyond the happy path: names that are Markdown or HTML, repeated seeds in the
per-class table, failed variants, and comparisons between runs that do not measure the same thing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from trainlab.errors import TrainlabError
from trainlab.report import load_run, render
from trainlab.report.render import compare, fmt_verdict, md_code, md_text

NASTY = "dog`s | best\nshot_*1*.jpg"


def test_markdown_text_and_code_spans_hold_any_name() -> None:
    assert md_text("<b>x_y*z [a](b) # h") == r"&lt;b&gt;x\_y\*z \[a\](b) \# h"
    assert md_code("a`b") == "``a`b``" and md_code("`x") == "`` `x ``"
    assert md_code("a|b", cell=True) == r"`a\|b`"
    assert md_code("two\nlines") == "`two lines`"


def test_skipped_file_names_cannot_break_the_markdown(fake_run: Path) -> None:
    study_path = fake_run / "study.json"
    study = json.loads(study_path.read_text())
    study["data"]["skipped"] = [{"path": NASTY, "reason": "unreadable <image>"}]
    study_path.write_text(json.dumps(study))
    _, md_path = render(fake_run)
    markdown = md_path.read_text()
    (line,) = [line for line in markdown.splitlines() if "best" in line and "shot" in line]
    assert line == "- ``dog`s | best shot_*1*.jpg`` — unreadable &lt;image&gt;"
    html = (fake_run / "report.html").read_text()
    assert "dog`s | best\nshot_*1*.jpg" in html and "unreadable &lt;image&gt;" in html


def _two_seeds(run_dir: Path, make_metrics: Callable[..., dict[str, Any]]) -> None:
    """Turn the fake run's base into two seeds: seed 0 is the existing run, seed 1 another confusion matrix."""
    study_path = run_dir / "study.json"
    study = json.loads(study_path.read_text())
    study["seeds"] = [0, 1]
    study["variants"][0]["runs"] = [{"seed": 0, "folder": "base/seed-0"}, {"seed": 1, "folder": "base/seed-1"}]
    study_path.write_text(json.dumps(study))
    (run_dir / "base" / "seed-0").mkdir()
    for name in ("metrics.json", "history.csv", "summary.txt", "config.yaml"):
        shutil.move(run_dir / "base" / name, run_dir / "base" / "seed-0" / name)
    shutil.copytree(run_dir / "base" / "seed-0", run_dir / "base" / "seed-1")
    other = make_metrics("base", [], [[14, 0, 0], [3, 9, 1], [1, 1, 11]], 0.9, 0.7)
    (run_dir / "base" / "seed-1" / "metrics.json").write_text(json.dumps(other))


def test_the_per_class_table_of_repeated_seeds_is_their_mean(fake_run: Path,
                                                             make_metrics: Callable[..., dict[str, Any]]) -> None:
    _two_seeds(fake_run, make_metrics)
    seeds = [json.loads((fake_run / "base" / f"seed-{s}" / "metrics.json").read_text())["test"] for s in (0, 1)]
    base = load_run(fake_run)["variants"][0]
    for row in base["per_class"]:
        for key in ("precision", "recall", "f1"):
            assert row[key] == pytest.approx((seeds[0]["per_class"][row["class"]][key]
                                              + seeds[1]["per_class"][row["class"]][key]) / 2)
    # its macro-average row (the mean of the seeds' macro averages) is the mean of the rows above it
    for key, macro in (("precision", "precision_macro"), ("recall", "recall_macro"), ("f1", "f1_macro")):
        assert base[macro] == pytest.approx(sum(row[key] for row in base["per_class"]) / 3)
    markdown = render(fake_run)[1].read_text()
    assert "curves and confusion matrix of seed 0; per-class table: mean over 2 seeds" in markdown


def test_a_failed_variant_is_reported_with_its_reason(fake_run: Path) -> None:
    failure = {"variant": "+dropout", "techniques": ["l2", "dropout"], "seed": 42, "epoch": 3, "batch": 7,
               "lr": 10.0, "reason": "the training loss became NaN or infinite at epoch 3, batch 7 (lr 10)"}
    (fake_run / "plus-dropout" / "failure.json").write_text(json.dumps(failure))
    run = load_run(fake_run)
    dropout = run["variants"][2]
    assert dropout["status"] == "failed" and dropout["failures"][0]["reason"] == failure["reason"]
    html_path, md_path = render(fake_run)
    assert f"| +dropout | l2, dropout | failed: {failure['reason']} |" in md_path.read_text()
    assert 'class="failed"' in html_path.read_text()


def test_compare_refuses_runs_over_other_classes(tmp_path: Path, make_run: Callable[..., Path]) -> None:
    run_a, run_b = make_run(tmp_path / "a"), make_run(tmp_path / "b")
    study = json.loads((run_b / "study.json").read_text())
    study["data"]["classes"] = [str(digit) for digit in range(10)]
    (run_b / "study.json").write_text(json.dumps(study))
    with pytest.raises(TrainlabError, match=r"are over different classes \(\['cat', 'dog', '<b>x'\] vs \['0', "):
        compare(run_a, run_b)


def test_compare_warns_when_the_data_differs(tmp_path: Path, make_run: Callable[..., Path]) -> None:
    run_a, run_b = make_run(tmp_path / "a"), make_run(tmp_path / "b")
    assert "Warning" not in compare(run_a, run_b)
    study = json.loads((run_b / "study.json").read_text())
    study["data"]["counts"]["test"]["cat"] = 20
    study["data"]["image_shape"] = [3, 16, 16]
    (run_b / "study.json").write_text(json.dumps(study))
    table = compare(run_a, run_b)
    assert ("**Warning: the runs used different data** (split sizes (train/val/test) 201/43/40 vs 201/43/46; "
            "image shape \\[3, 8, 8\\] vs \\[3, 16, 16\\])") in table
    for name, fingerprint in (("a", "f" * 64), ("b", "0" * 64)):
        path = tmp_path / name / "study.json"
        study = json.loads(path.read_text())
        study["data"].update(fingerprint=fingerprint, counts=json.loads((run_a / "study.json").read_text())["data"]
                             ["counts"], image_shape=[3, 8, 8])
        path.write_text(json.dumps(study))
    assert "not the same images (data fingerprints differ)" in compare(run_a, run_b)


def _predictions(path: Path, correct: list[bool], ids: list[str] | None = None) -> None:
    """A predictions.csv over the fake run's 3 classes: example i is class i % 3, predicted right where ``correct``."""
    classes = ["cat", "dog", "<b>x"]
    rows = []
    for index, right in enumerate(correct):
        true = index % 3
        predicted = true if right else (true + 1) % 3
        probabilities = [0.1, 0.1, 0.1]
        probabilities[predicted] = 0.8
        rows.append({"index": index, "id": (ids or [f"img{i}.png" for i in range(len(correct))])[index],
                     "true": classes[true], "predicted": classes[predicted],
                     **{f"p_{name}": p for name, p in zip(classes, probabilities, strict=True)}})
    pd.DataFrame(rows).to_csv(path, index=False)


def test_mcnemar_compares_each_variant_with_the_base_on_the_same_examples(fake_run: Path) -> None:
    base = [True] * 30 + [True, True] + [False] * 5 + [False] * 3  # 32 of 40 right
    l2 = [True] * 30 + [False, False] + [True] * 3 + [False] * 2 + [True] * 0 + [False] * 3  # 2 lost, 3 gained
    _predictions(fake_run / "base" / "predictions.csv", base)
    _predictions(fake_run / "plus-l2" / "predictions.csv", l2)
    run = load_run(fake_run)
    base_variant, l2_variant = run["variants"][:2]
    assert base_variant["mcnemar"] is None  # the base is not compared with itself
    mcnemar = l2_variant["mcnemar"]
    assert (mcnemar["base_only"], mcnemar["variant_only"], mcnemar["method"]) == (2, 3, "exact")
    assert mcnemar["p_value"] == pytest.approx(1.0)  # 2 vs 3 discordant: nothing a test sample can tell
    assert fmt_verdict(l2_variant) == "not significant on this test sample"
    markdown = render(fake_run)[1].read_text()
    assert "| 1.000 (2 vs 3) |" in markdown and "| not significant on this test sample |" in markdown

    _predictions(fake_run / "plus-l2" / "predictions.csv", l2, ids=[f"other{i}.png" for i in range(40)])
    assert load_run(fake_run)["variants"][1]["mcnemar"] is None  # other test examples: no paired test


@pytest.mark.parametrize(
    ("interval", "mcnemar", "delta", "expected"),
    [
        (None, None, 1.0, "—"),
        ({"low": 0.5, "high": 2.0, "excludes_zero": True}, None, 1.2, "better than base"),
        (None, {"p_value": 0.01, "consistent": True, "direction": 1}, 2.0, "better than base on this test sample "
                                                                            "(one seed)"),
        ({"low": 0.5, "high": 2.0, "excludes_zero": True}, {"p_value": 0.001, "consistent": True, "direction": 1},
         1.2, "better than base (survives retraining and the test sample)"),
        ({"low": -3.0, "high": -0.5, "excludes_zero": True}, {"p_value": 0.3, "consistent": True, "direction": 0},
         -1.5, "worse than base over seeds, not significant on this test sample"),
        ({"low": -1.0, "high": 2.0, "excludes_zero": False}, {"p_value": 0.01, "consistent": True, "direction": -1},
         0.4, "worse than base on this test sample, within seed noise"),
        ({"low": -1.0, "high": 2.0, "excludes_zero": False}, {"p_value": 0.01, "consistent": False, "direction": 0},
         0.4, "differs from base on the test sample, better with one seed and worse with another"),
        ({"low": -1.0, "high": 2.0, "excludes_zero": False}, {"p_value": 0.4, "consistent": True, "direction": 0},
         0.4, "within noise (seeds and test sample)"),
    ],
)
def test_the_reading_says_which_of_seeds_and_test_sample_holds(interval: dict | None, mcnemar: dict | None,
                                                               delta: float, expected: str) -> None:
    variant = {"is_base": False, "delta_interval": interval, "mcnemar": mcnemar, "delta_pp": delta}
    assert fmt_verdict(variant) == expected
    assert fmt_verdict({"is_base": True}) == "base"
