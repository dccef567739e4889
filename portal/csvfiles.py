"""Reading the lender's own CSV files (UTF-8, optional BOM) as a stream, with one clear error when unreadable.

Writing CSVs for people goes through ``portal.plugins.neutralise_formula`` (see uploads/exports.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

from portal.errors import FileFormatError, _l


def iter_csv_rows(
    stream: BinaryIO, *, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[tuple[int, int, dict[str, str]]]:
    """Yield ``(data_row_number, line, row)`` for each non-blank data row of a UTF-8 CSV.

    Raises FileFormatError for a file that is not UTF-8, is empty, or lacks a required column.
    Row numbers are 1-based data rows, as in contract 4.4 (the header is not counted); ``line`` is
    the file's line where the row starts (the header is line 1), the number a person finds in an
    editor or spreadsheet, blank lines and quoted line breaks included.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text)
    row_number = 0
    try:
        header = next(reader, None)
        if header is None:
            raise FileFormatError(_l("the file is empty: expected a header row"))
        names = [h.strip() for h in header]
        duplicates = sorted({n for n in names if names.count(n) > 1 and n})
        if duplicates:
            raise FileFormatError(_l("duplicate column(s) in the header: %(columns)s", columns=", ".join(duplicates)))
        missing = [c for c in required if c not in names]
        if missing:
            raise FileFormatError(_l("missing column(s): %(columns)s", columns=", ".join(missing)))
        known = set(required) | set(optional)
        index = {name: i for i, name in enumerate(names) if name in known}
        while True:
            line = reader.line_num + 1
            values = next(reader, None)
            if values is None:
                break
            if not any(v.strip() for v in values):
                continue
            row_number += 1
            yield (
                row_number,
                line,
                {name: (values[i].strip() if i < len(values) else "") for name, i in index.items()},
            )
    except csv.Error as exc:
        # csv's own reason ("line contains NUL") is English only: the line number is what helps.
        raise FileFormatError(_l("not a readable CSV file (line %(line)s)", line=reader.line_num)) from exc
    except UnicodeDecodeError as exc:
        if row_number:
            message = _l("the file is not UTF-8 text (undecodable bytes after data row %(row)s)", row=row_number)
        else:
            message = _l("the file is not UTF-8 text (undecodable bytes in the header)")
        raise FileFormatError(message) from exc
    finally:
        text.detach()
