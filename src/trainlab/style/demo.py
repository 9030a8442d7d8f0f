"""The embedded demo of ``trainlab style``: scikit-image's bundled pictures (no download) with the packaged feature
net (a VGG-13 trained by trainlab, ``trainlab/style/assets/``; see :data:`~trainlab.style.features.DEMO_WEIGHTS`).

Three pairs, content + style: the cat Chelsea + bricks, the astronaut Eileen Collins + grass, a cup of coffee + gravel
(the three textures are grayscale photographs, repeated on three channels). ``--demo all`` runs the three.
"""

from __future__ import annotations

from trainlab.errors import TrainlabError
from trainlab.style.images import SKIMAGE_PREFIX

PAIRS: dict[str, tuple[str, str]] = {
    "chelsea-brick": ("chelsea", "brick"),
    "astronaut-grass": ("astronaut", "grass"),
    "coffee-gravel": ("coffee", "gravel"),
}
DEFAULT_PAIR = "chelsea-brick"
ALL = "all"


def demo_pairs(choice: str | None) -> list[tuple[str, str, str]]:
    """``(name, content spec, style spec)`` of the chosen pair (None: the default one) or of every pair (``all``)."""
    choice = DEFAULT_PAIR if choice is None else choice
    if choice != ALL and choice not in PAIRS:
        raise TrainlabError(f"--demo {choice!r} is not a demo pair; choose {', '.join(PAIRS)} or {ALL}")
    names = list(PAIRS) if choice == ALL else [choice]
    return [(name, SKIMAGE_PREFIX + PAIRS[name][0], SKIMAGE_PREFIX + PAIRS[name][1]) for name in names]
