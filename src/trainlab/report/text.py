"""What the report adds for text data: the facts of the input (vocabulary, length cap, unknown tokens) and the most
confidently misclassified test texts per class, both read from the run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainlab.artifacts import PREDICTIONS_FILE, TEXT_COLUMN, read_predictions
from trainlab.report.gallery import most_confident_mistakes
from trainlab.report.load import DONE

MISTAKES_PER_CLASS = 4
SKIPPED_SHOWN = 20  # skipped rows listed by name; the rest are counted


def _percent(value: Any) -> str:
    return f"{100.0 * float(value):.1f}%"


def input_facts(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows describing a non-image input for the report's data table; [] for images."""
    spec, profile = data.get("input", {}), data.get("profile", {})
    if spec.get("kind") != "tokens":
        return []
    facts = [("Input", f"token sequences ({spec.get('tokenizer', '?')} tokenizer)")]
    if "rows_read" in profile:
        facts.append(("Rows", f"{profile['rows_read']:,} read, {profile.get('rows_used', 0):,} used "
                              f"(text column {profile.get('text_column', '?')!r}, label column "
                              f"{profile.get('label_column', '?')!r})"))
    vocab = f"{spec.get('vocab_size', 0):,} tokens"
    if "min_freq" in profile:
        vocab += f" (from the train split, each seen at least {profile['min_freq']} times)"
    facts.append(("Vocabulary", vocab))
    cap = f"{spec.get('max_len', '?')} tokens"
    if "length_percentile" in profile:
        truncated = profile.get("truncated", {})
        cap += f" ({profile['length_percentile']:g}th percentile of train lengths"
        cap += f"; {_percent(truncated.get('fraction', 0.0))} of train texts truncated)" if truncated else ")"
    facts.append(("Length cap", cap))
    if profile.get("unk_rate"):
        facts.append(("Unknown tokens", ", ".join(f"{split} {_percent(rate)}"
                                                  for split, rate in profile["unk_rate"].items())))
    return facts


def text_mistakes(run_dir: Path, run: dict[str, Any], per_class: int = MISTAKES_PER_CLASS) -> list[dict[str, Any]]:
    """For the base and the best variant (by test accuracy): each class's misclassified test texts, most confident
    first, from predictions.csv; [] for runs whose predictions hold no texts."""
    done = [v for v in run["variants"] if v["status"] == DONE]
    shown = [v for v in done if v["is_base"]]
    best = max(done, key=lambda v: v["test_accuracy"], default=None)
    if best is not None and best not in shown:
        shown.append(best)
    groups = []
    for variant in shown:
        path = run_dir / variant["run_folder"] / PREDICTIONS_FILE
        if not path.is_file():
            continue
        table = read_predictions(path, variant["classes"])
        if TEXT_COLUMN not in table.columns:
            continue
        rows = [{"true": name, "predicted": row["predicted"], "confidence": float(row["confidence"]),
                 "id": row["id"], "text": row[TEXT_COLUMN]}
                for name, mistakes in most_confident_mistakes(table, variant["classes"], per_class).items()
                for _, row in mistakes.iterrows()]
        groups.append({"name": variant["name"], "seed": variant["shown_seed"], "best": variant is best, "rows": rows})
    return groups


def fmt_notes(notes: dict[str, Any]) -> str:
    """A variant's model notes in words, e.g. the vocabulary coverage of its pretrained embeddings."""
    if "coverage" in notes:
        return (f"{notes.get('embeddings', 'pretrained embeddings')} covers {_percent(notes['coverage'])} of the "
                f"vocabulary ({notes.get('found', 0):,} of {notes.get('vocab', 0):,} tokens)")
    return ", ".join(f"{key} {value}" for key, value in notes.items())
