"""trainlab: classic deep-learning experiments end to end, from a YAML recipe to a report."""

__version__ = "0.1.0"
