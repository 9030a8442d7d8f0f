"""Text models (token sequences → class logits): filled in by the text lab."""
