"""schemathesis against our own OpenAPI document, in process through the WSGI app (no network).

Each operation gets generated requests (a fixed seed, bounded examples) as an agency agent and as a
compliance officer, on seeded data: an agency with cases placed with it, an upload with rejected rows
and findings, and audit events. Every answer must not be a server error, must carry a status the
document lists for the operation, and must match the document's schema for that status.
"""

from __future__ import annotations

import io

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.accounts.services import create_token, get_user_by_email
from portal.api.openapi import document
from portal.security import Actor
from tests.conftest import DATA

OUTSIDE_PLACEMENT = b"ZY202600001,2026-10-20 10:00:00,call,debtor,13177777868,no_answer,,,,,ZC001,,\n"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Small enough that the module runs in about a minute on two cores; the seed makes every run the same.
MAX_EXAMPLES = 12


@pytest.fixture
def tokens(app, world) -> dict[str, str]:
    # Generated requests come fast: the per-token limit is not what this test is about (tests/accounts has it).
    app.config["PORTAL_RATE_LIMIT_API"] = "100000 per minute"
    app.config["PORTAL_RATE_LIMIT_API_ANONYMOUS"] = "100000 per minute"
    with app.app_context():
        minted = {
            who: create_token(actor=Actor.system(source="test"), user=get_user_by_email(world[who]), label="st")[1]
            for who in ("zc_agent", "compliance")
        }
    contacts = (DATA / "contacts_canonical.csv").read_bytes() + OUTSIDE_PLACEMENT
    posted = app.test_client().post(
        "/api/v1/uploads",
        headers={"Authorization": f"Bearer {minted['zc_agent']}"},
        data={"kind": "contacts", "file": (io.BytesIO(contacts), "contacts.csv")},
    )
    assert posted.status_code == 202, posted.json
    return minted


# The document the app serves at /api/v1/openapi.json (tests/api/test_openapi.py keeps the two the same);
# loaded here rather than from a fixture, because schemathesis's lazy fixture loader needs an older pytest.
schema = schemathesis.openapi.from_dict(document())


SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@schema.parametrize()
@SETTINGS
def test_an_agency_agent_gets_what_the_document_says(case, app, tokens):
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {tokens['zc_agent']}"}, checks=CHECKS)


@schema.parametrize()
@SETTINGS
def test_a_compliance_officer_gets_what_the_document_says(case, app, tokens):
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {tokens['compliance']}"}, checks=CHECKS)
