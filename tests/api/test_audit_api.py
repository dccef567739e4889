"""``/api/v1/audit``: events, verify, checkpoint and RFC 9162 proofs, for compliance and admin only; the
public key for everyone."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import insert, select

from portal.accounts.services import create_token, get_user_by_email
from portal.audit import merkle
from portal.audit import verify as offline
from portal.audit.checkpoints import make_checkpoint
from portal.audit.models import AuditEvent
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.db import utcnow
from portal.extensions import db
from portal.security import Actor
from tests.audit.conftest import tamper
from tests.audit.test_merkle import CONSISTENCY_VECTORS, INCLUSION_VECTORS, LEAVES, ROOTS
from tests.conftest import audit_actions, last_seq, make_user

AUDIT_URLS = [
    "/api/v1/audit/events",
    "/api/v1/audit/verify",
    "/api/v1/audit/checkpoint",
    "/api/v1/audit/proof/inclusion?seq=1",
    "/api/v1/audit/proof/consistency?from=1",
]


@pytest.fixture
def api(app, world):
    def client_for(who: str):
        with app.app_context():
            _token, clear = create_token(
                actor=Actor.system(source="test"), user=get_user_by_email(world[who]), label="t"
            )
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {clear}"
        return client

    return client_for


def signed_tree(app) -> dict[str, object]:
    with app.app_context():
        checkpoint, _ = make_checkpoint()
        db.session.commit()
        return checkpoint.as_checkpoint()


@pytest.mark.parametrize("who", ["zc_agent", "zc_admin", "ops"])
@pytest.mark.parametrize("url", AUDIT_URLS)
def test_only_compliance_and_admin_may_read_the_trail(api, app, who, url):
    signed_tree(app)
    response = api(who).get(url)
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"


@pytest.mark.parametrize("who", ["compliance", "admin"])
def test_verify_answers_like_the_command_and_is_audited(api, app, who):
    client = api(who)
    before = None
    with app.app_context():
        before = last_seq()
    body = client.get("/api/v1/audit/verify").json
    assert set(body) == {"ok", "events", "first_bad_seq", "root", "unproven_events", "witnessed_tree_size"}
    assert body["witnessed_tree_size"] is None and body["unproven_events"] == before
    assert body["ok"] is True and body["events"] == before and body["first_bad_seq"] is None
    with app.app_context():
        assert audit_actions(before) == ["audit:trail:verify"]
        tamper("UPDATE audit_events SET outcome = 'failure' WHERE seq = 3")
    body = client.get("/api/v1/audit/verify").json
    assert body["ok"] is False and body["first_bad_seq"] == 3


def test_events_page_forward_with_filters(api, app):
    client = api("compliance")
    with app.app_context():
        placements = len([a for a in audit_actions() if a == "case:placement:create"])
    seen, cursor = [], None
    while True:
        url = "/api/v1/audit/events?action=case:placement:create&limit=7" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url).json
        seen += body["items"]
        cursor = body["next"]
        if cursor is None:
            break
    assert len(seen) == placements == 40
    assert [e["seq"] for e in seen] == sorted(e["seq"] for e in seen)
    first = seen[0]
    assert set(first) == {
        "seq", "occurred_at", "actor_user_id", "actor_role", "agency_id", "source", "ip", "user_agent",
        "action", "object_type", "object_id", "outcome", "details", "leaf_hash",
    }  # fmt: skip
    leaf = {k: v for k, v in first.items() if k != "leaf_hash"}
    assert offline.event_leaf_hash(leaf).hex() == first["leaf_hash"]
    zc = client.get("/api/v1/audit/events?agency=ZC&action=case:placement:&limit=500").json["items"]
    assert len(zc) == 20 and {e["agency_id"] for e in zc} == {1}
    with app.app_context():
        reads = db.session.execute(select(AuditEvent.details).where(AuditEvent.action == "audit:events:read")).scalars()
        assert all(d["view"] == "api" for d in reads)


@pytest.mark.parametrize(
    "query",
    ["since=yesterday", "limit=0", "limit=501", "agency=NOPE", "cursor=bm9wZQ", "actor=nobody@example.com"],
)
def test_bad_event_filters_are_400_invalid_parameter(api, query):
    response = api("admin").get(f"/api/v1/audit/events?{query}")
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_parameter"


def test_events_by_time_window(api, app):
    client = api("admin")
    assert client.get("/api/v1/audit/events?until=2000-01-01").json["items"] == []
    today = utcnow().date().isoformat()
    items = client.get(f"/api/v1/audit/events?since={today}T00:00:00Z&limit=5").json["items"]
    assert len(items) == 5


def test_inclusion_and_consistency_proofs_verify(api, app):
    client = api("compliance")
    first = signed_tree(app)
    with app.app_context():
        for n in range(3):
            make_user(f"extra{n}@lender.example.com", "lender_ops")
    second = signed_tree(app)
    size = second["tree_size"]
    assert client.get("/api/v1/audit/checkpoint").json == second
    assert client.get(f"/api/v1/audit/checkpoint?tree_size={first['tree_size']}").json == first
    for seq in (1, 2, first["tree_size"], size):
        proof = client.get(f"/api/v1/audit/proof/inclusion?seq={seq}").json
        assert proof["tree_size"] == size and proof["leaf_index"] == seq - 1
        assert proof["checkpoint"] == second and proof["root_hash"] == second["root_hash"]
        path = [bytes.fromhex(h) for h in proof["inclusion_path"]]
        root = bytes.fromhex(second["root_hash"])
        assert merkle.verify_inclusion(bytes.fromhex(proof["leaf_hash"]), seq - 1, size, path, root)
    proof = client.get(f"/api/v1/audit/proof/consistency?from={first['tree_size']}&to={size}").json
    assert proof["first_hash"] == first["root_hash"] and proof["second_hash"] == second["root_hash"]
    assert proof["checkpoint_1"] == first and proof["checkpoint_2"] == second
    assert merkle.verify_consistency(
        first["tree_size"],
        size,
        bytes.fromhex(first["root_hash"]),
        bytes.fromhex(second["root_hash"]),
        [bytes.fromhex(h) for h in proof["consistency_path"]],
    )
    with app.app_context():
        assert audit_actions(last_seq() - 2) == ["audit:proof:read"] * 2


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/audit/proof/inclusion",
        "/api/v1/audit/proof/inclusion?seq=0",
        "/api/v1/audit/proof/inclusion?seq=5&tree_size=4",
        "/api/v1/audit/proof/inclusion?seq=1&tree_size=999999",
        "/api/v1/audit/proof/inclusion?seq=x",
        "/api/v1/audit/proof/consistency?from=9&to=3",
        "/api/v1/audit/proof/consistency",
    ],
)
def test_bad_proof_requests_are_400(api, url):
    response = api("admin").get(url)
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_parameter"


def test_proofs_over_the_rfc_6962_test_vectors(app):
    """Events whose leaf hashes are the RFC 6962 vector leaves: the API's proofs are the published ones."""
    with app.app_context():
        rows = [
            {
                "seq": i + 1,
                "occurred_at": utcnow(),
                "source": "test",
                "action": "test:vector:leaf",
                "outcome": "success",
                "details": {},
                "leaf_hash": leaf.hex(),
                "canonical": "{}",
            }
            for i, leaf in enumerate(LEAVES)
        ]
        db.session.execute(insert(AuditEvent), rows)
        db.session.commit()
        user = make_user("auditor@lender.example.com", "compliance")
        _token, clear = create_token(actor=Actor.system(source="test"), user=user, label="t")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {clear}"
    for index, size, path in INCLUSION_VECTORS:
        proof = client.get(f"/api/v1/audit/proof/inclusion?seq={index + 1}&tree_size={size}").json
        assert proof["inclusion_path"] == path and proof["root_hash"] == ROOTS[size]
        assert proof["leaf_hash"] == LEAVES[index].hex()
        assert offline.verify_inclusion(
            LEAVES[index], index, size, [bytes.fromhex(p) for p in path], bytes.fromhex(ROOTS[size])
        )
    for old, new, path in CONSISTENCY_VECTORS:
        proof = client.get(f"/api/v1/audit/proof/consistency?from={old}&to={new}").json
        assert proof["consistency_path"] == path
        assert (proof["first_hash"], proof["second_hash"]) == (ROOTS[old], ROOTS[new])


def test_the_openapi_document_lists_the_audit_paths(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/audit/events",
        "/audit/verify",
        "/audit/checkpoint",
        "/audit/proof/inclusion",
        "/audit/proof/consistency",
    ):
        assert "get" in paths[path]


@pytest.mark.parametrize("who", ["zc_agent", "zc_admin", "hx_agent", "ops", "compliance", "admin"])
def test_every_role_may_fetch_the_key_that_signs_checkpoints(api, app, who):
    checkpoint = signed_tree(app)
    response = api(who).get("/api/v1/audit/public-key")
    assert response.status_code == 200
    assert response.json == {
        "key_id": checkpoint["key_id"],
        "public_key": checkpoint["public_key"],
        "algorithm": "Ed25519",
        "previous_keys": [],
    }
    assert offline.key_id_for(base64.b64decode(response.json["public_key"])) == response.json["key_id"]


def test_an_agency_fetches_the_key_but_still_not_the_checkpoint(api, app):
    signed_tree(app)
    agent = api("zc_agent")
    assert agent.get("/api/v1/audit/public-key").status_code == 200
    assert agent.get("/api/v1/audit/checkpoint").status_code == 403


def test_the_public_key_needs_a_token(client):
    response = client.get("/api/v1/audit/public-key")
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"


def test_after_a_key_change_the_current_key_is_served_and_the_old_one_listed(api, app):
    old = signed_tree(app)
    seed = base64.b64encode(bytes(range(32))).decode()
    app.config["PORTAL_AUDIT_SIGNING_KEY"] = seed
    app.extensions.pop("portal.audit_signing_key", None)  # as after a restart with the new setting
    with app.app_context():
        record_event(actor=Actor.system(source="test"), action=AuditTag.AUDIT_TRAIL_VERIFY)
        db.session.commit()
    new = signed_tree(app)
    assert new["key_id"] != old["key_id"]
    body = api("zc_agent").get("/api/v1/audit/public-key").json
    assert (body["key_id"], body["public_key"]) == (new["key_id"], new["public_key"])
    assert body["previous_keys"] == [{"key_id": old["key_id"], "public_key": old["public_key"], "algorithm": "Ed25519"}]
