"""The one error type for user mistakes.

A :class:`TrainlabError` carries a message that names the thing that is wrong (file, key, column, value) and says what
was expected. The CLI prints it as one line and exits with status 2; anything else is a bug and keeps its traceback.
"""


class TrainlabError(Exception):
    """A user mistake: bad recipe key, missing file, empty class, unsafe archive, ..."""


class StudyInterrupted(Exception):  # noqa: N818 (named for what happened, like KeyboardInterrupt)
    """Ctrl-C during a study whose run folder exists: the CLI says how to ``--resume`` it (not a user mistake)."""

    def __init__(self, run_dir: object) -> None:
        super().__init__(f"the finished runs are kept in {run_dir}")
        self.run_dir = run_dir
