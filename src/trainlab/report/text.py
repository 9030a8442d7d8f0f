"""What the report adds for text data: the facts of the input (vocabulary, length cap, unknown tokens) and the most
confidently misclassified test texts per class, both read from the run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainlab.artifacts import PREDICTIONS_FILE, TEXT_COLUMN, read_predictions
from trainlab.report.forecast import window_facts
from trainlab.report.gallery import most_confident_mistakes
from trainlab.report.load import DONE, best_variant

MISTAKES_PER_CLASS = 4
SKIPPED_SHOWN = 20  # skipped rows listed by name; the rest are counted


def _percent(value: Any) -> str:
    return f"{100.0 * float(value):.1f}%"


def profile_facts(profile: dict[str, Any]) -> list[tuple[str, str]]:
    """A text profile's facts as (label, value) rows (rows, cap, vocabulary, unknown tokens, ...); keys a source does
    not give are left out. The report's data table and ``trainlab eda`` both show them."""
    facts: list[tuple[str, str]] = []
    if "rows_read" in profile:
        columns = ", ".join(f"{what} column {profile[key]!r}" for what, key in (("text", "text_column"),
                                                                             ("label", "label_column"))
                            if key in profile)
        facts.append(("Rows", f"{profile.get('rows_used', 0):,} used of {profile['rows_read']:,} read"
                              + (f" ({columns})" if columns else "")))
    if profile.get("dropped"):
        facts.append(("Dropped on purpose", ", ".join(f"{n:,} {why}" for why, n in profile["dropped"].items())))
    if "max_len" in profile:
        how = (f"p{float(profile.get('length_percentile', 95.0)):g} of the train texts' token lengths"
               if profile.get("max_len_from", "percentile") == "percentile" else "set by data.options.max_len")
        facts.append(("Length cap", f"{profile['max_len']} tokens ({how})"))
    if "length_percentile" in profile:
        facts.append(("Length percentile", f"{float(profile['length_percentile']):g}"))
    truncated = profile.get("truncated")
    if isinstance(truncated, dict):
        share = _percent(truncated.get("fraction", 0))
        facts.append(("Truncated", f"{truncated.get('count', 0):,} train texts ({share}) are longer than the cap "
                                   "and keep their first tokens"))
    if "vocab_size" in profile:
        limits = ", ".join(f"{key} {profile[key]:,}" for key in ("min_freq", "max_vocab") if key in profile)
        facts.append(("Vocabulary", f"{profile['vocab_size']:,} tokens" + (f" ({limits})" if limits else "")))
    if isinstance(profile.get("unk_rate"), dict):
        facts.append(("Unknown-token rate", ", ".join(f"{split} {_percent(rate)}"
                                                      for split, rate in profile["unk_rate"].items())))
    if "tokenizer" in profile:
        facts.append(("Tokenizer", str(profile["tokenizer"])))
    return facts


def input_facts(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows describing a non-image input for the report's data table; [] for images."""
    kind = data.get("input", {}).get("kind")
    if kind == "window":
        return window_facts(data)
    if kind != "tokens":
        return []
    return [("Input", "token sequences"), *profile_facts(data.get("profile", {}))]


def text_mistakes(run_dir: Path, run: dict[str, Any], per_class: int = MISTAKES_PER_CLASS) -> list[dict[str, Any]]:
    """For the base and the best variant (by test accuracy): each class's misclassified test texts, most confident
    first, from predictions.csv; [] for runs whose predictions hold no texts and for tasks other than classification."""
    if run.get("task", "classification") != "classification":
        return []
    done = [v for v in run["variants"] if v["status"] == DONE]
    shown = [v for v in done if v["is_base"]]
    best = best_variant(done, run["metric"])
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
    """A variant's model notes in words, e.g. the vocabulary coverage of its pretrained embeddings, where its weights
    came from, whether torch.compile ran."""
    rest = {key: value for key, value in notes.items() if key != "compile"}
    if "coverage" in rest:
        said = (f"{rest.get('embeddings', 'pretrained embeddings')} covers {_percent(rest['coverage'])} of the "
                f"vocabulary ({rest.get('found', 0):,} of {rest.get('vocab', 0):,} tokens)")
    elif "weights" in rest:
        said = _pretrained_notes(rest)
    else:
        said = ", ".join(f"{key} {value}" for key, value in rest.items())
    return "; ".join(part for part in (said, str(notes.get("compile") or "")) if part)


def _pretrained_notes(notes: dict[str, Any]) -> str:
    """Where a pretrained model's weights came from and how they were used (see trainlab.models.transfer)."""
    new = notes.get("new_layers") or []
    unexpected = notes.get("unexpected_tensors", 0)
    return (f"pretrained weights from {notes.get('weights_kind', 'a file')} {notes['weights']} "
            f"({notes.get('pretrained_tensors', 0):,} tensors loaded; new: {', '.join(new) or 'none'}"
            + (f"; {unexpected:,} tensors of the file unused" if unexpected else "")
            + f"), {notes.get('training', 'fine-tuned')}, inputs normalized with "
            + str(notes.get("normalization", "the weights' own statistics")))
