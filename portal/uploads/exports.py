"""errors.csv: every rejected row of an upload, formula-safe, streamed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select

from portal.extensions import db
from portal.plugins import neutralise_formula
from portal.textsafety import reveal_bidi_controls
from portal.uploads.models import Upload, UploadError, translate_row_message

# Contract 4.2's columns first, then where the user finds the row in their own file.
ERRORS_CSV_COLUMNS = ("row", "field", "code", "message", "column", "line")


def _cell(value: str | None) -> str:
    # A value echoed in a message is the agency's own text: safe for Excel and visibly bidi-free.
    return neutralise_formula(reveal_bidi_controls(value or ""))


def errors_csv(upload: Upload) -> Iterator[str]:
    """The rows of errors.csv; ``message`` is in the language of the request (English outside one)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ERRORS_CSV_COLUMNS)
    rows = db.session.execute(
        select(
            UploadError.row,
            UploadError.field,
            UploadError.code,
            UploadError.message,
            UploadError.column,
            UploadError.line,
            UploadError.template,
            UploadError.params,
        )
        .where(UploadError.upload_id == upload.id)
        .order_by(UploadError.row, UploadError.id)
        .execution_options(yield_per=1000)
    )
    for count, (row, field, code, message, column, line, template, params) in enumerate(rows, 1):
        shown = translate_row_message(template, params, message)
        writer.writerow([row, *(_cell(value) for value in (field, code, shown, column)), "" if line is None else line])
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
