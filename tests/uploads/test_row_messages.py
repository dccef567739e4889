"""Row errors speak the reader's language and name what the user sent: their column, their line or sheet row."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook
from sqlalchemy import update

from portal.accounts.models import User
from portal.extensions import db
from tests.conftest import DATA, login
from tests.uploads.conftest import CONTACT_HEADER
from tests.uploads.test_api import post

GOOD = "ZY202600001,2026-11-10 15:25:00,call,debtor,13177777868,no_answer,,,,,ZC001,,"
BAD_DATE = "ZY202600001,2026-13-45 15:25:00,call,debtor,13177777868,no_answer,,,,,ZC001,,"


def _cn_gbk_with_a_bad_date() -> tuple[bytes, int, int]:
    """The GBK sample with its third data row's 催收时间 broken, a blank line before it; (bytes, row, line)."""
    lines = (DATA / "contacts_cn_gbk.csv").read_bytes().decode("gbk").splitlines()
    broken = lines[3].split(",")
    broken[1] = "2026年13月45日 25:00"
    # Header line 1, data rows on lines 2 and 3, a blank line 4: the broken row is data row 3 on line 5.
    text = "\n".join([*lines[:3], "", ",".join(broken), *lines[4:]]) + "\n"
    return text.encode("gbk"), 3, 5


def _set_locale(app, email: str, locale: str | None) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.email == email).values(locale=locale))
        db.session.commit()


def _errors_csv(client, url: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(client.get(url).get_data(as_text=True))))


def test_a_chinese_agency_user_sees_a_chinese_message_naming_their_column_and_line(app, world, client, upload):
    _set_locale(app, world["zc_agent"], "zh_CN")
    data, row, line = _cn_gbk_with_a_bad_date()
    summary = upload(data, filename="催收记录.csv")
    assert summary["rows_rejected"] == 1
    login(client, world["zc_agent"])
    page = client.get(f"/uploads/{summary['id']}").get_data(as_text=True)
    table = page[page.index('id="row-errors"') :]
    assert "催收时间 &#39;2026年13月45日 25:00&#39; 不是有效的日期时间" in table
    assert f"第 {line} 行" in table and "contacted_at" not in table.split("</thead>")[1].split("<code>")[0]
    assert "is not a date and time" not in table

    [error] = _errors_csv(client, f"/uploads/{summary['id']}/errors.csv")
    # Contract 4.4's row, field and code are untouched; column and line say where the user finds it.
    assert (error["row"], error["field"], error["code"]) == (str(row), "contacted_at", "invalid_date")
    assert (error["column"], error["line"]) == ("催收时间", str(line))
    assert error["message"].startswith("催收时间 '2026年13月45日 25:00' 不是有效的日期时间")


def test_an_english_user_sees_english_naming_the_files_own_column(app, world, client, upload):
    _set_locale(app, world["zc_agent"], "en")
    data, row, line = _cn_gbk_with_a_bad_date()
    summary = upload(data)
    login(client, world["zc_agent"])
    page = client.get(f"/uploads/{summary['id']}").get_data(as_text=True)
    assert "催收时间 &#39;2026年13月45日 25:00&#39; is not a date and time" in page
    assert f"line {line}" in page
    [error] = _errors_csv(client, f"/uploads/{summary['id']}/errors.csv")
    assert error["message"] == (
        "催收时间 '2026年13月45日 25:00' is not a date and time (expected e.g. 2026-11-28 14:05:00)"
    )
    assert (error["row"], error["column"], error["line"]) == (str(row), "催收时间", str(line))


def _workbook(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for cells in rows:
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_workbook_whose_header_is_not_on_row_1_reports_the_excel_row(app, world, client, upload):
    _set_locale(app, world["zc_agent"], "zh_CN")
    header = CONTACT_HEADER.strip().split(",")
    good, bad = GOOD.split(","), BAD_DATE.split(",")
    # Two blank rows, the header on sheet row 3; data rows 1-3 on sheet rows 4-6, the bad data row 4 on row 7.
    data = _workbook([[], [], header, good, good, good, bad])
    summary = upload(data, filename="contacts.xlsx", adapter="canonical_xlsx")
    assert [(e["row"], e["line"], e["column"]) for e in summary["errors"]] == [(4, 7, "contacted_at")]
    login(client, world["zc_agent"])
    page = client.get(f"/uploads/{summary['id']}").get_data(as_text=True)
    table = page[page.index('id="row-errors"') :]
    assert "第 7 行" in table and "不是有效的日期时间" in table

    _set_locale(app, world["zc_agent"], "en")
    assert "sheet row 7" in client.get(f"/uploads/{summary['id']}").get_data(as_text=True)


def test_blank_rows_inside_a_workbook_count_in_the_sheet_row(world, upload):
    header = CONTACT_HEADER.strip().split(",")
    data = _workbook([header, GOOD.split(","), [], [None] * 3, BAD_DATE.split(",")])
    summary = upload(data, filename="contacts.xlsx", adapter="canonical_xlsx")
    assert [(e["row"], e["line"]) for e in summary["errors"]] == [(2, 5)]


def test_host_checks_name_the_column_and_line_of_the_row_they_judge(world, upload):
    data, _, _ = _cn_gbk_with_a_bad_date()
    lines = data.decode("gbk").splitlines()
    lines[1] = lines[1].replace("ZY202600001", "ZY299999999", 1)
    summary = upload("\n".join(lines).encode("gbk"))
    unknown = next(e for e in summary["errors"] if e["code"] == "unknown_case")
    assert (unknown["row"], unknown["field"], unknown["column"], unknown["line"]) == (1, "case_ref", "案件编号", 2)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("zh-CN", "催收时间 '2026年13月45日 25:00' 不是有效的日期时间"),
        ("en", "催收时间 '2026年13月45日 25:00' is not a date"),
    ],
)
def test_the_api_answers_in_the_callers_language(api, language, expected):
    client = api()
    data, row, line = _cn_gbk_with_a_bad_date()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    summary = post(client, data).json
    [error] = summary["errors"]
    assert {key: error[key] for key in ("row", "field", "code")} == {
        "row": row,
        "field": "contacted_at",
        "code": "invalid_date",
    }
    assert error["message"].startswith(expected)
    assert (error["column"], error["line"]) == ("催收时间", line)
    again = client.get(f"/api/v1/uploads/{summary['id']}").json["errors"][0]["message"]
    assert again.startswith(expected)
    [row_of_csv] = _errors_csv(client, f"/api/v1/uploads/{summary['id']}/errors.csv")
    assert row_of_csv["message"].startswith(expected)
