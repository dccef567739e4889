"""errors.csv: every rejected row of an upload, formula-safe, streamed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select

from portal.extensions import db
from portal.plugins import neutralise_formula
from portal.uploads.models import Upload, UploadError


def errors_csv(upload: Upload) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["row", "field", "code", "message"])
    rows = db.session.execute(
        select(UploadError.row, UploadError.field, UploadError.code, UploadError.message)
        .where(UploadError.upload_id == upload.id)
        .order_by(UploadError.row, UploadError.id)
        .execution_options(yield_per=1000)
    )
    for count, (row, field, code, message) in enumerate(rows, 1):
        writer.writerow([row, neutralise_formula(field), neutralise_formula(code), neutralise_formula(message)])
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
