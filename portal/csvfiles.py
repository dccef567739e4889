"""Reading the lender's own CSV files (UTF-8, optional BOM) as a stream, with one clear error when unreadable.

Writing CSVs for people goes through ``portal.plugins.neutralise_formula`` (see uploads/exports.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

from portal.errors import FileFormatError


def iter_csv_rows(
    stream: BinaryIO, *, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(data_row_number, row)`` for each non-blank data row of a UTF-8 CSV.

    Raises FileFormatError for a file that is not UTF-8, is empty, or lacks a required column.
    Row numbers are 1-based data rows, as in contract 4.4 (the header is not counted).
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text)
    row_number = 0
    try:
        header = next(reader, None)
        if header is None:
            raise FileFormatError("the file is empty: expected a header row")
        names = [h.strip() for h in header]
        duplicates = sorted({n for n in names if names.count(n) > 1 and n})
        if duplicates:
            raise FileFormatError(f"duplicate column(s) in the header: {', '.join(duplicates)}")
        missing = [c for c in required if c not in names]
        if missing:
            raise FileFormatError(f"missing column(s): {', '.join(missing)}")
        known = set(required) | set(optional)
        index = {name: i for i, name in enumerate(names) if name in known}
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            row_number += 1
            yield row_number, {name: (values[i].strip() if i < len(values) else "") for name, i in index.items()}
    except csv.Error as exc:
        raise FileFormatError(f"not a readable CSV file: {exc}") from exc
    except UnicodeDecodeError as exc:
        where = f"after data row {row_number}" if row_number else "in the header"
        raise FileFormatError(f"the file is not UTF-8 text (undecodable bytes {where})") from exc
    finally:
        text.detach()
