"""Extraction of row message templates (the ``N_`` marker) for pybabel; see babel.cfg."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

# Adapters show no text of their own: only what they mark as a row message template.
ROW_TEMPLATE_KEYWORDS = ("N_",)


def extract_row_templates(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Mapping[str, Any]
) -> Iterator[tuple[int, str, Any, list[str]]]:
    """Babel's Python extractor limited to ``N_``, so that nothing else an adapter writes is extracted."""
    from babel.messages.extract import extract_python  # imported here: only ``make translations`` needs Babel

    del keywords  # the project-wide keywords (_, gettext, _l ...) do not apply to adapters
    yield from extract_python(fileobj, ROW_TEMPLATE_KEYWORDS, comment_tags, dict(options))
