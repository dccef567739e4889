"""Golden data for adapter tests: an independent reading of the sample files, and file builders."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from portal.plugins import ContactRecord, Record, SettlementRecord

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]


def _opt(text: str) -> str | None:
    return text or None


def expected_records(name: str) -> list[Record]:
    """The records of a canonical sample CSV, read without the adapters (the oracle)."""
    rows = csv.DictReader(io.StringIO((DATA / name).read_text(encoding="utf-8-sig")))
    out: list[Record] = []
    for r in rows:
        if "contacted_at" in r:
            out.append(
                ContactRecord(
                    case_ref=r["case_ref"],
                    contacted_at=datetime.fromisoformat(r["contacted_at"]),
                    channel=r["channel"],
                    party=r["party"],
                    outcome=r["outcome"],
                    collector_id=r["collector_id"],
                    phone=_opt(r["phone"]),
                    connected={"true": True, "false": False}.get(r["connected"]),
                    duration_s=int(r["duration_s"]) if r["duration_s"] else None,
                    promise_amount=Decimal(r["promise_amount"]) if r["promise_amount"] else None,
                    promise_date=date.fromisoformat(r["promise_date"]) if r["promise_date"] else None,
                    recording_ref=_opt(r["recording_ref"]),
                    notes=_opt(r["notes"]),
                )
            )
        else:
            out.append(
                SettlementRecord(
                    case_ref=r["case_ref"],
                    paid_at=datetime.fromisoformat(r["paid_at"]),
                    amount=Decimal(r["amount"]),
                    method=r["method"],
                    payment_ref=r["payment_ref"],
                    type=r["type"],
                    waiver_amount=Decimal(r["waiver_amount"]) if r["waiver_amount"] else None,
                    notes=_opt(r["notes"]),
                )
            )
    return out


def expected_cn_contacts() -> list[Record]:
    """contacts_cn_gbk.csv holds the canonical sample's contacts, plus notes."""
    text = (DATA / "contacts_cn_gbk.csv").read_bytes().decode("gbk")
    notes = [row["备注"] or None for row in csv.DictReader(io.StringIO(text))]
    return [
        replace(record, notes=note)
        for record, note in zip(expected_records("contacts_canonical.csv"), notes, strict=True)
    ]


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    """A one-sheet workbook holding ``rows``, as an agency's spreadsheet would."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return text.getvalue().encode(encoding)


def fake_distribution(root: Path, name: str, entry_points: dict[str, str], group: str = "portal.adapters") -> Path:
    """A ``.dist-info`` directory under ``root`` (to put on sys.path): installs entry points, no pip."""
    dist = root / f"{name.replace('-', '_')}-0.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.0\n", encoding="utf-8")
    lines = [f"[{group}]", *(f"{key} = {value}" for key, value in entry_points.items())]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
