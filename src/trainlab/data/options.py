"""``data.options``: each source checks its own options with a pydantic model and reports every problem as
``data.options.<key>`` in one line."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from trainlab.errors import TrainlabError

M = TypeVar("M", bound=BaseModel)


def parse_source_options(model: type[M], raw: dict[str, Any], defaults: dict[str, Any] | None = None) -> M:
    """``raw`` over ``defaults``, validated by ``model``; unknown keys are named with the list of known ones."""
    try:
        return model.model_validate({**(defaults or {}), **raw})
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            key = ".".join(str(part) for part in ("data", "options", *problem["loc"]))
            detail = problem["msg"].removeprefix("Value error, ")
            if problem["type"] == "extra_forbidden":
                detail = f"unknown option; known: {', '.join(model.model_fields)}"
            got = "" if problem["type"] == "value_error" else f" (got {problem.get('input')!r})"
            problems.append(f"{key}: {detail}{got}")
        raise TrainlabError("invalid " + "; ".join(problems)) from None
