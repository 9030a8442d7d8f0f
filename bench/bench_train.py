"""Image training speed on the course images: ``trainlab bench --json`` with ``--data`` set to the shared archive.

    python bench/bench_train.py                          # CPU: VGG-13 width 1/8 at 32x32; CUDA: the recipe's full size
    python bench/bench_train.py --steps 50 --pairs 5     # any option of `trainlab bench`
    python bench/bench_train.py --width 1 --image-size 64   # the vgg13-ablation recipe as written, on a CPU too

The same model and data trained three ways in one process (course-style loop, plain optimized PyTorch loop,
trainlab's trainer); see ``trainlab bench --help`` and :mod:`trainlab.bench`. Prints one JSON line; speed is measured
here, never asserted in a test.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def course_archive() -> Path:
    """The course's dogs / food / vehicles archive (in ``TRAINLAB_SHARED_DATA`` or ``../shared/data``)."""
    shared = Path(os.environ.get("TRAINLAB_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    return shared / "cnn_dataset" / "cnn_dataset.tar.gz"


def main(argv: list[str] | None = None) -> None:
    from trainlab.cli import app

    args = list(sys.argv[1:] if argv is None else argv)
    if not any(arg == "--data" or arg.startswith("--data=") for arg in args):
        args = ["--data", str(course_archive()), *args]
    if "--json" not in args:
        args.append("--json")
    app(["bench", *args], prog_name="bench_train.py")  # exits with the command's status


if __name__ == "__main__":
    main()
