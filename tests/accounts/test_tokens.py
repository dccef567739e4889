"""API tokens: minted on a page or the CLI, shown once, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import json
import re

from sqlalchemy import select

from portal.accounts.models import ApiToken
from portal.extensions import db
from tests.conftest import audit_actions, last_seq, login


def test_a_token_made_on_the_page_is_shown_once_and_works_until_revoked(app, client, world):
    login(client, world["zc_agent"])
    with app.app_context():
        seq = last_seq()
    page = client.post("/account/tokens", data={"name": "nightly job"}).get_data(as_text=True)
    token = re.search(r'id="new-token">([^<]+)<', page).group(1)
    assert token not in client.get("/account/tokens").get_data(as_text=True)
    with app.app_context():
        row = db.session.execute(select(ApiToken)).scalar_one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (row.prefix + row.token_hash + row.label)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/cases", headers=headers).status_code == 200
    refs = re.findall(
        r'action="/account/tokens/([A-Za-z0-9_-]+)/revoke"', client.get("/account/tokens").get_data(as_text=True)
    )
    assert len(refs) == 1
    # The key is no address: the page names the token by a reference the server sealed.
    assert client.post(f"/account/tokens/{row.id}/revoke").status_code == 404
    assert client.post(f"/account/tokens/{refs[0]}/revoke").status_code == 302
    assert api.get("/api/v1/cases", headers=headers).status_code == 401
    with app.app_context():
        assert audit_actions(seq) == ["account:token:create", "account:token:revoke"]


def test_users_cannot_revoke_each_others_tokens(app, client, world, runner):
    from portal.params import seal_cursor

    with app.test_request_context():
        runner.invoke(args=["users", "token", world["hx_agent"]])
        token_id = db.session.execute(select(ApiToken.id)).scalar_one()
        ref = seal_cursor([token_id], purpose="api_token")
    login(client, world["zc_agent"])
    assert client.post(f"/account/tokens/{ref}/revoke").status_code == 404


def test_cli_prints_the_token_as_the_last_line_or_as_json(app, runner, world):
    text = runner.invoke(args=["users", "token", world["ops"], "--name", "etl"])
    assert text.exit_code == 0
    token = text.stdout.strip().splitlines()[-1]
    assert token.startswith("pt_")
    as_json = runner.invoke(args=["users", "token", world["ops"], "--json"])
    assert list(json.loads(as_json.stdout)) == ["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/cases", headers=headers).status_code == 200
    unknown = runner.invoke(args=["users", "token", "ghost@lender.example.com"])
    assert unknown.exit_code == 1 and unknown.stderr == "error: unknown user ghost@lender.example.com\n"
