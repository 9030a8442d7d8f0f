"""The one error type for user mistakes.

A :class:`TrainlabError` carries a message that names the thing that is wrong (file, key, column, value) and says what
was expected. The CLI prints it as one line and exits with status 2; anything else is a bug and keeps its traceback.
"""


class TrainlabError(Exception):
    """A user mistake: bad recipe key, missing file, empty class, unsafe archive, ..."""
