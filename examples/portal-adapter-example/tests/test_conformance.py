"""Acme's adapter against the portal's conformance kit (run: pip install -e . && pytest)."""

# Naive datetimes are the records' own "agency local time" (contract 5.1), so DTZ001 does not apply.
# ruff: noqa: DTZ001

from __future__ import annotations

from datetime import datetime

from portal.plugins import ContactRecord
from portal.testing import AdapterConformance, BadSample, Sample

GOLDEN = (
    b"CASE|WHEN|HOW|WHO|NUMBER|RESULT|AGENT|NOTE\n"
    b"ZY202600001|20261110T1525|TEL|SELF|13177777868|NA|AC01|\n"
    b"ZY202600003|20261111T1650|TEL|SPOUSE|+86 136 9771 4383|CB|AC02|call back Friday\n"
    b"ZY202600005|20261112T0930|DOOR|SELF||REF|AC01|-refused at the door\n"
)
EXPECTED = [
    ContactRecord("ZY202600001", datetime(2026, 11, 10, 15, 25), "call", "debtor", "no_answer", "AC01", "13177777868"),
    ContactRecord(
        "ZY202600003", datetime(2026, 11, 11, 16, 50), "call", "spouse", "callback", "AC02", "13697714383",
        notes="call back Friday",
    ),
    ContactRecord(
        "ZY202600005", datetime(2026, 11, 12, 9, 30), "visit", "debtor", "refused", "AC01", notes="-refused at the door"
    ),
]  # fmt: skip
BAD = (
    b"CASE|WHEN|HOW|WHO|NUMBER|RESULT|AGENT|NOTE\n"
    b"ZY202600001|2026-11-10|TEL|SELF|13177777868|NA|AC01|\n"
    b"ZY202600001|20261110T1525|FAX|SELF|13177777868|NA||\n"
)


class TestAcmePsv(AdapterConformance):
    adapter_name = "acme_psv"
    format_key = "acme_psv"
    samples = [Sample("contacts", GOLDEN, EXPECTED, "acme_20261112.psv")]
    bad_samples = [
        BadSample(
            "contacts",
            BAD,
            [
                (1, "contacted_at", "invalid_date"),
                (2, "channel", "invalid_value"),
                (2, "collector_id", "missing_field"),
            ],
        )
    ]
