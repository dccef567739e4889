"""Case flags with the day they took effect, `flask cases flag`, and US identifiers in the cases file."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.cases.masking import mask_id_number
from portal.cases.models import CaseFlag, Customer
from portal.extensions import db
from tests.cases.test_importing import GOOD, HEADER
from tests.conftest import import_file, last_seq


def flags_of(case_ref: str = "ZY1") -> list[CaseFlag]:
    from portal.cases.models import Case

    case = db.session.execute(select(Case).where(Case.case_ref == case_ref)).scalar_one()
    return sorted(case.flags, key=lambda f: (f.flag, f.id))


def row_with(flags: str, timezone: str = "") -> bytes:
    return (HEADER + GOOD.replace(",北京,,", f",北京,{timezone},").replace(",45,\n", f",45,{flags}\n")).encode()


def test_a_dated_flag_holds_from_the_debtors_midnight_and_an_undated_one_from_the_start(ctx):
    result = import_file(content=row_with("cease;dispute@2026-11-21"))
    assert result.rejected == 0
    cease, dispute = flags_of()
    assert cease.effective_from is None
    # Midnight in Shanghai (the lender's zone: the row gives none) is 16:00 UTC the day before.
    assert dispute.effective_from == datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    # A call the evening before the dispute was raised is not under it; one the next morning is.
    assert not dispute.holds_at(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    assert dispute.holds_at(datetime(2026, 11, 21, 1, 0, tzinfo=UTC))
    assert cease.holds_at(datetime(2000, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("day", "expected_utc_hour"),
    # New York moves to daylight time at 02:00 on 8 March 2026: that day's midnight is still EST.
    [("2026-03-08", 5), ("2026-03-09", 4), ("2026-11-01", 4), ("2026-11-02", 5)],
)
def test_the_debtors_own_timezone_decides_the_day_across_daylight_saving(ctx, day, expected_utc_hour):
    import_file(content=row_with(f"dispute@{day}", timezone="America/New_York"))
    (dispute,) = flags_of()
    assert dispute.effective_from.hour == expected_utc_hour


def test_a_reimport_moves_a_flags_date_ends_what_it_no_longer_lists_and_keeps_flags_set_by_hand(ctx, runner):
    import_file(content=row_with("dispute@2026-11-21;vulnerable"))
    assert runner.invoke(args=["cases", "flag", "ZY1", "cease", "--reason", "asked by phone"]).exit_code == 0
    seq = last_seq()
    result = import_file(content=row_with("dispute@2026-11-19"))
    assert result.updated == 1
    by_flag = {(f.flag, f.effective_to is None): f for f in flags_of()}
    assert by_flag[("dispute", True)].effective_from == datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
    assert ("vulnerable", False) in by_flag and ("cease", True) in by_flag
    events = db.session.execute(select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)).scalars()
    moved = [e.details for e in events if e.action == "case:flag:set"]
    assert moved == [
        {
            "case_ref": "ZY1",
            "flag": "dispute",
            "effective_from": "2026-11-18T16:00:00+00:00",
            "previous_from": "2026-11-20T16:00:00+00:00",
            "source": "import",
        }
    ]
    # The same file again changes nothing.
    assert import_file(content=row_with("dispute@2026-11-19")).unchanged == 1


@pytest.mark.parametrize(
    ("flags", "code"),
    [
        ("dispute@2026-13-01", "invalid_date"),
        ("dispute@yesterday", "invalid_date"),
        ("dispute@20261121", "invalid_date"),
        ("angry", "invalid_value"),
        ("dispute@2026-11-01;dispute@2026-11-02", "invalid_value"),
    ],
)
def test_bad_flags_are_row_errors_on_the_flags_column(ctx, flags, code):
    result = import_file(content=row_with(flags))
    assert result.rejected == 1
    assert (result.errors[0].field, result.errors[0].code) == ("flags", code)


def test_flag_command_sets_from_today_clears_and_is_audited(ctx, runner):
    import_file(content=row_with(""))
    first = runner.invoke(args=["cases", "flag", "ZY1", "cease", "--reason", "debtor asked us to stop", "--json"])
    assert first.exit_code == 0, first.output
    shown = json.loads(first.stdout)
    assert (shown["action"], shown["reason"], shown["effective_to"]) == ("set", "debtor asked us to stop", None)
    start = datetime.fromisoformat(shown["effective_from"]).astimezone(UTC)
    # Today's midnight in the debtor's (here the lender's) timezone.
    assert start.hour == 16 and (datetime.now(UTC) - start).total_seconds() < 86400

    again = runner.invoke(args=["cases", "flag", "ZY1", "cease", "--reason", "again", "--json"])
    assert json.loads(again.stdout)["action"] == "unchanged"

    cleared = runner.invoke(args=["cases", "flag", "ZY1", "cease", "--clear", "--reason", "withdrawn", "--json"])
    assert json.loads(cleared.stdout)["action"] == "cleared"
    (flag,) = flags_of()
    assert flag.effective_to is not None and flag.source == "manual" and flag.reason == "withdrawn"
    details = [
        e.details
        for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
        if e.action in ("case:flag:set", "case:flag:clear")
    ]
    assert [d["reason"] for d in details] == ["debtor asked us to stop", "withdrawn"]


def test_flag_command_with_a_day_and_its_refusals(ctx, runner, monkeypatch):
    import_file(content=row_with(""))
    dated = runner.invoke(args=["cases", "flag", "ZY1", "dispute", "--from", "2026-11-21", "--reason", "letter"])
    assert dated.exit_code == 0 and "2026-11-20T16:00:00+00:00" in dated.stdout
    early = runner.invoke(args=["cases", "flag", "ZY1", "dispute", "--clear", "--from", "2026-11-01", "--reason", "x"])
    assert early.exit_code == 1 and "cannot end before" in early.stderr

    ancient = runner.invoke(args=["cases", "flag", "ZY1", "cease", "--from", "0001-01-01", "--reason", "x"])
    assert ancient.exit_code == 1 and ancient.stderr.startswith("error: the day must fall between")
    missing = runner.invoke(args=["cases", "flag", "ZY9", "cease", "--reason", "x"])
    assert missing.exit_code == 1 and missing.stderr.strip() == "error: no case ZY9"
    blank = runner.invoke(args=["cases", "flag", "ZY1", "cease", "--reason", "  "])
    assert blank.exit_code == 1 and "reason is required" in blank.stderr
    assert runner.invoke(args=["cases", "flag", "ZY1", "angry", "--reason", "x"]).exit_code == 2
    monkeypatch.setenv("LC_ALL", "zh_CN.UTF-8")
    chinese = runner.invoke(args=["cases", "flag", "ZY9", "cease", "--reason", "x"])
    assert chinese.stderr.strip() == "error: 没有案件 ZY9"


def test_the_case_page_and_api_say_an_undated_flag_holds_from_the_start(app, client, world):
    from tests.conftest import login

    login(client, world["zc_agent"])
    page = client.get("/cases/ZY202600007").get_data(as_text=True)
    assert "自首次联系之前起" in page


US_ROW = "US1,LN1,CU1,John Smith,{id},+12025550123:debtor,NY,America/New_York,personal_loan,1000.00,800.50,USD,45,\n"


@pytest.fixture
def us_app(app):
    app.config["PORTAL_JURISDICTION"] = "US"
    return app


@pytest.mark.parametrize(("given", "stored"), [("123-45-6789", "123456789"), ("912701234", "912701234"), ("", "")])
def test_us_profile_accepts_ssn_itin_or_nothing_with_e164_phones(us_app, given, stored):
    with us_app.app_context():
        result = import_file(content=(HEADER + US_ROW.format(id=given)).encode())
        assert (result.inserted, result.rejected) == (1, 0), [e.as_dict() for e in result.errors]
        customer = db.session.execute(select(Customer)).scalar_one()
        assert (customer.id_number, customer.timezone) == (stored, "America/New_York")
        assert [p.number for p in customer.phones] == ["+12025550123"]


@pytest.mark.parametrize("given", ["110101199001011234", "123-456-789", "12345678", "１２３４５６７８９"])
def test_us_profile_refuses_what_is_not_an_ssn(us_app, given):
    with us_app.app_context():
        result = import_file(content=(HEADER + US_ROW.format(id=given)).encode())
        assert result.rejected == 1 and (result.errors[0].field, result.errors[0].code) == (
            "id_number",
            "invalid_value",
        )


def test_cn_profile_still_requires_a_resident_id(ctx):
    result = import_file(content=(HEADER + US_ROW.format(id="123-45-6789")).encode())
    assert result.rejected == 1 and result.errors[0].field == "id_number"


def test_an_agency_sees_only_the_last_four_digits_of_an_ssn():
    assert mask_id_number("123456789") == "*****6789"
    assert mask_id_number("110101199001011234") == "110***********1234"
