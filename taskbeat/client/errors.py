"""What the client raises: the API's problem details, or no answer at all."""

from __future__ import annotations

from typing import Any


class ProblemError(Exception):
    """The API answered with an error; its RFC 9457 problem details."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.title = str(problem.get("title", ""))
        self.detail = str(problem.get("detail", ""))
        self.errors: list[dict[str, str]] = list(problem.get("errors") or [])
        super().__init__(f"{status} {self.title}: {self.detail}")

    @property
    def fields(self) -> list[str]:
        """The fields a 422 names."""
        return [error["field"] for error in self.errors]


class ApiUnreachable(Exception):
    """The API could not be reached (or did not answer in time)."""
