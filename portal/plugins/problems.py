"""FileProblem: a problem with a whole file, raised by the readers and reported as one row-0 issue."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from portal.plugins.records import NO_PARAMS, ParsedRow, RowIssue

Item = ParsedRow | RowIssue


class FileProblem(Exception):
    """A problem with the whole file; ``guarded`` turns it into one row-0 RowIssue.

    ``text`` is English, marked with N_ so the host can translate it; with ``params`` it
    is a template and the message is ``text % params``.
    """

    def __init__(self, text: str, code: str = "unreadable_file", field: str = "", **params: str | int) -> None:
        message = text % params if params else text
        super().__init__(message)
        self.message = message
        self.template = text
        self.params = params or NO_PARAMS
        self.code = code
        self.field = field

    def issue(self) -> RowIssue:
        """This problem as the row-0 issue that rejects the file."""
        return RowIssue(0, self.field, self.code, self.message, template=self.template, params=self.params)


def guarded(items: Iterable[Item]) -> Iterator[Item]:
    """Yield from ``items``, ending with a row-0 issue instead of raising a FileProblem."""
    try:
        yield from items
    except FileProblem as problem:
        yield problem.issue()
