"""Importing the lender's cases file: counts, updates, bad rows, all-or-nothing, unreadable files."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from portal.cases.models import Case, CaseFlag, Customer
from portal.errors import FileFormatError
from portal.extensions import db
from tests.conftest import DATA, audit_actions, import_file, last_seq

HEADER = (
    "case_ref,loan_ref,customer_id,debtor_name,id_number,phones,province,timezone,product,"
    "principal,outstanding_balance,currency,days_past_due,flags\n"
)
GOOD = (
    "ZY1,LN1,CU1,张三,110101199001011234,13800138000:debtor;13900139000:spouse,北京,,personal_loan,"
    "1000.00,800.50,CNY,45,\n"
)


def test_sample_file_imports_every_case_with_buckets_and_flags(ctx):
    result = import_file()
    assert (result.inserted, result.updated, result.rejected) == (40, 0, 0)
    case = db.session.execute(select(Case).where(Case.case_ref == "ZY202600001")).scalar_one()
    assert case.days_past_due == 58 and case.bucket == "M2"
    assert str(case.outstanding_balance) == "10186.50"
    disputed = db.session.execute(select(Case).where(Case.case_ref == "ZY202600007")).scalar_one()
    assert disputed.active_flags == ["dispute"]
    actions = audit_actions()
    assert actions.count("case:case:create") == 40
    assert actions.count("case:flag:set") == 4
    assert actions[-1] == "case:import:complete"


def test_reimporting_the_same_file_changes_nothing(ctx):
    import_file()
    before = last_seq()
    again = import_file()
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 40)
    assert audit_actions(before) == ["case:import:complete"]


def test_a_changed_balance_or_dpd_updates_the_case_and_is_audited(ctx):
    import_file(content=(HEADER + GOOD).encode())
    seq = last_seq()
    changed = GOOD.replace("800.50", "700.00").replace(",45,", ",95,")
    result = import_file(content=(HEADER + changed).encode())
    assert (result.inserted, result.updated) == (0, 1)
    case = db.session.execute(select(Case).where(Case.case_ref == "ZY1")).scalar_one()
    assert (str(case.outstanding_balance), case.days_past_due, case.bucket) == ("700.00", 95, "M4+")
    assert audit_actions(seq) == ["case:case:update", "case:import:complete"]


def test_flags_are_kept_as_history_when_cleared(ctx):
    import_file(content=(HEADER + GOOD.replace(",45,\n", ",45,cease;vulnerable\n")).encode())
    seq = last_seq()
    import_file(content=(HEADER + GOOD.replace(",45,\n", ",45,vulnerable\n")).encode())
    flags = db.session.execute(select(CaseFlag).order_by(CaseFlag.flag)).scalars().all()
    assert [(f.flag, f.effective_to is None) for f in flags] == [("cease", False), ("vulnerable", True)]
    assert audit_actions(seq) == ["case:flag:clear", "case:import:complete"]


def test_phones_are_replaced_by_the_files_list(ctx):
    import_file(content=(HEADER + GOOD).encode())
    import_file(content=(HEADER + GOOD.replace(";13900139000:spouse", ";+8613700137000:parent")).encode())
    customer = db.session.execute(select(Customer)).scalar_one()
    assert [(p.number, p.party) for p in customer.phones] == [("13800138000", "debtor"), ("13700137000", "parent")]


BAD_ROWS = [
    (GOOD.replace("ZY1,", ",", 1), "case_ref", "missing_field"),
    (GOOD.replace("800.50", "80.505"), "outstanding_balance", "invalid_amount"),
    (GOOD.replace("800.50", "lots"), "outstanding_balance", "invalid_amount"),
    (GOOD.replace("13800138000:debtor", "12345:debtor"), "phones", "invalid_phone"),
    (GOOD.replace(":spouse", ":neighbour"), "phones", "invalid_value"),
    (GOOD.replace(",45,", ",-3,"), "days_past_due", "invalid_value"),
    (GOOD.replace("110101199001011234", "11010119901301123X"), "id_number", "invalid_value"),
    (GOOD.replace(",,personal_loan", ",Mars/Base,personal_loan"), "timezone", "invalid_value"),
    (GOOD.replace(",45,\n", ",45,angry\n"), "flags", "invalid_value"),
    (GOOD.replace(",CNY,", ",RMB1,"), "currency", "invalid_value"),
]


@pytest.mark.parametrize(("row", "field", "code"), BAD_ROWS)
def test_bad_rows_are_reported_with_row_field_and_code_and_the_rest_imported(ctx, row, field, code):
    other = GOOD.replace("ZY1,", "ZY2,").replace("CU1", "CU2")
    result = import_file(content=(HEADER + other + row).encode())
    assert result.inserted == 1
    assert [(e.row, e.field, e.code) for e in result.errors] == [(2, field, code)]
    assert result.errors[0].message


def test_all_or_nothing_imports_nothing_when_a_row_is_bad(ctx):
    bad = GOOD.replace("ZY1,", "ZY2,").replace("800.50", "x")
    result = import_file(content=(HEADER + GOOD + bad).encode(), all_or_nothing=True)
    assert not result.applied and result.rejected == 1
    assert db.session.execute(select(Case)).first() is None
    assert audit_actions() == ["case:import:complete"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"case_ref,loan_ref\nZY1,LN1\n", r"missing column\(s\): customer_id"),
        ((HEADER + GOOD).encode("gbk"), "not UTF-8"),
        (HEADER.replace("flags", "case_ref").encode(), "duplicate column"),
    ],
)
def test_unreadable_files_raise_one_clear_error_and_store_nothing(ctx, content, message):
    with pytest.raises(FileFormatError, match=message):
        import_file(content=content)
    db.session.rollback()
    assert db.session.execute(select(Case)).first() is None


def test_cli_import_reports_json_and_errors_on_stderr(runner, ctx, tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text(HEADER + GOOD + GOOD.replace("ZY1,", "ZY9,").replace("800.50", "-1"), encoding="utf-8")
    result = runner.invoke(args=["cases", "import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["inserted"], summary["rejected"]) == (1, 1)
    assert summary["errors"][0] == {
        "row": 2,
        "line": 3,  # the header is line 1
        "field": "outstanding_balance",
        "code": "invalid_amount",
        "message": "outstanding_balance must be 0 or more",
    }
    assert "line 3: outstanding_balance: invalid_amount: outstanding_balance must be 0 or more" in result.stderr


def test_cli_import_of_a_gbk_file_is_one_line_on_stderr_and_non_zero(runner, ctx):
    result = runner.invoke(args=["cases", "import", str(DATA / "contacts_cn_gbk.csv")])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: the file is not UTF-8")
