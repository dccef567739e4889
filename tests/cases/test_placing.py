"""Placing cases by hand: the sample file, idempotency, conflicts, capacity, and the database's own guard."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.cases.models import Case, Placement
from portal.cases.placing import end_placement
from portal.db import utcnow
from portal.errors import FileFormatError
from portal.extensions import db
from portal.security import Actor
from tests.conftest import audit_actions, import_file, last_seq, make_agency, place_file


@pytest.fixture
def cases(ctx):
    make_agency("ZC")
    make_agency("HX")
    make_agency("SM", capacity=2, placement_term_days=30)
    import_file()


def test_the_sample_placement_file_places_every_case_alternately(cases):
    seq = last_seq()
    result = place_file()
    assert (result.placed, result.rejected, dict(result.by_agency)) == (40, 0, {"HX": 20, "ZC": 20})
    actions = audit_actions(seq)
    assert actions.count("case:placement:create") == 40 and actions[-1] == "case:placement:batch"
    again = place_file()
    assert (again.placed, again.unchanged) == (0, 40)


def test_defaults_are_now_and_the_agencys_term(cases):
    result = place_file(b"case_ref,agency\nZY202600001,sm\n")
    assert result.placed == 1
    placement = db.session.execute(select(Placement)).scalar_one()
    assert timedelta(days=29, hours=23) < placement.expires_at - placement.placed_at <= timedelta(days=30)
    assert abs(placement.placed_at - utcnow()) < timedelta(minutes=1)


def test_rows_are_rejected_with_reasons(cases):
    place_file(b"case_ref,agency\nZY202600001,ZC\n")
    content = (
        b"case_ref,agency,placed_at,expires_at\n"
        b"ZY202600001,HX,,\n"  # open with ZC
        b"ZY209999999,ZC,,\n"  # no such case
        b"ZY202600002,ZC,yesterday,\n"
        b"ZY202600003,ZC,2026-11-01T00:00:00+08:00,2026-10-01T00:00:00+08:00\n"
        b"ZY202600004,SM,,\n"
        b"ZY202600005,SM,,\n"
        b"ZY202600006,SM,,\n"  # SM's capacity is 2
    )
    result = place_file(content)
    assert result.placed == 2
    assert [(e.row, e.field, e.code) for e in result.errors] == [
        (1, "agency", "invalid_value"),
        (2, "case_ref", "unknown_case"),
        (3, "placed_at", "invalid_date"),
        (4, "expires_at", "invalid_date"),
        (7, "agency", "invalid_value"),
    ]
    assert "capacity of 2" in str(result.errors[-1].message)
    # Lines as a spreadsheet numbers them: the header is line 1.
    assert [e.line for e in result.errors] == [2, 3, 4, 5, 8]


def test_an_unknown_agency_rejects_the_whole_file(cases):
    with pytest.raises(FileFormatError, match="line 3: unknown agency 'XX'"):
        place_file(b"case_ref,agency\nZY202600001,ZC\nZY202600002,XX\n")
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Placement)).scalar() == 0


def test_cli_place_with_an_unknown_agency_is_one_line_and_non_zero(runner, cases, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("case_ref,agency\nZY202600001,NOPE\n")
    result = runner.invoke(args=["cases", "place", str(path), "--json"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == "error: line 2: unknown agency 'NOPE'\n"
    path.write_text("case_ref,agency\nZY202600001,ZC\n")
    ok = runner.invoke(args=["cases", "place", str(path), "--json"])
    assert json.loads(ok.stdout)["by_agency"] == {"ZC": 1}


def test_the_database_allows_only_one_open_placement_per_case(cases):
    place_file(b"case_ref,agency\nZY202600001,ZC\n")
    case = db.session.execute(select(Case).where(Case.case_ref == "ZY202600001")).scalar_one()
    hx = db.session.execute(select(Placement.agency_id)).scalar_one() + 1
    now = utcnow()
    db.session.add(Placement(case_id=case.id, agency_id=hx, placed_at=now, expires_at=now + timedelta(days=1)))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    # Once the first placement has ended, a new one is allowed.
    first = db.session.execute(select(Placement)).scalar_one()
    seq = last_seq()
    end_placement(actor=Actor.system(source="test"), placement=first, reason="recalled")
    db.session.add(Placement(case_id=case.id, agency_id=hx, placed_at=now, expires_at=now + timedelta(days=1)))
    db.session.commit()
    assert audit_actions(seq) == ["case:placement:end"]
