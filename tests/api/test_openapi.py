"""The OpenAPI document is the API: every route and method, the query parameters each handler reads, and
every field of every answer, checked by calling each endpoint with real data and validating what it says."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pytest
from flask import Flask
from jsonschema import Draft202012Validator, ValidationError
from werkzeug.datastructures import ImmutableMultiDict

from portal.accounts.services import create_token, get_user_by_email
from portal.security import Actor
from tests.conftest import DATA

PREFIX = "/api/v1"
METHODS = ("get", "post", "put", "patch", "delete")
OUTSIDE_PLACEMENT = b"ZY202600001,2026-10-20 10:00:00,call,debtor,13177777868,no_answer,,,,,ZC001,,\n"
HINT = "add it to the schema in portal/api/openapi.py (or drop it from the answer)"


def _documented_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule[len(PREFIX) :])


def _routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (method.lower(), _documented_path(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(PREFIX + "/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def _operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in doc["paths"].items() for method in item if method in METHODS}


@pytest.fixture
def doc(client) -> dict[str, Any]:
    response = client.get(PREFIX + "/openapi.json")
    assert response.status_code == 200
    return response.json


def test_the_document_lists_exactly_the_routes_and_methods(app, doc):
    assert doc["openapi"].startswith("3.1")
    routes, documented = _routes(app), _operations(doc)
    assert not routes - documented, f"routes missing from the OpenAPI document: {sorted(routes - documented)}"
    assert not documented - routes, f"documented operations that no route answers: {sorted(documented - routes)}"


def _schemas_in(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "type" in node or "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from _schemas_in(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schemas_in(value, f"{where}/{index}")


def test_every_object_in_the_document_declares_its_fields(doc):
    schemas = [("#/components/schemas", doc["components"]["schemas"])]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                for media, content in response.get("content", {}).items():
                    assert "schema" in content, f"{method.upper()} {path} {status} {media} has no schema"
                    schemas.append((f"{method.upper()} {path} {status}", content["schema"]))
            assert any(s.startswith("2") for s in operation["responses"]), f"{method.upper()} {path}: no 2xx answer"
    for root, node in schemas:
        for where, schema in _schemas_in(node, root):
            kinds = schema.get("type", "object")
            if "object" not in (kinds if isinstance(kinds, list) else [kinds]) or "requestBody" in where:
                continue
            # Closed objects list their fields; an open one (audit details) says so on purpose.
            assert "additionalProperties" in schema, f"{where}: say additionalProperties (false, with properties)"
            if schema["additionalProperties"] is False:
                assert schema.get("properties"), f"{where}: a closed object without properties"
                assert set(schema.get("required", [])) <= set(schema["properties"]), f"{where}: required not declared"


def test_every_parameter_says_where_it_goes_and_its_type(doc):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            names = [(p["in"], p["name"]) for p in operation.get("parameters", [])]
            assert len(names) == len(set(names)), f"{method.upper()} {path}: a parameter is listed twice"
            for parameter in operation.get("parameters", []):
                label = f"{method.upper()} {path} ?{parameter['name']}"
                assert parameter["in"] in ("query", "path"), label
                assert parameter.get("description"), f"{label}: no description"
                schema = parameter["schema"]
                assert "type" in schema or "enum" in schema, f"{label}: no type"
            templated = set(re.findall(r"{([a-z_]+)}", path))
            assert templated == {n for where, n in names if where == "path"}, f"{method.upper()} {path}: path params"


# --- calling every endpoint with real data ---------------------------------------------------

_ARGS_READ: set[str] = set()


class _WatchedArgs(ImmutableMultiDict):
    """Query arguments that remember which names the handler asked for (documented or not)."""

    def get(self, key, default=None, type=None):
        _ARGS_READ.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):
        _ARGS_READ.add(key)
        return super().getlist(key, type)

    def __getitem__(self, key):
        _ARGS_READ.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        _ARGS_READ.add(key)
        return super().__contains__(key)


@dataclass(frozen=True)
class Call:
    who: str | None
    method: str
    url: str
    status: int
    items: bool = False  # a list answer: it must hold at least one item, so that the items' fields are checked
    body: Any = None  # a JSON request body


def _calls(upload_id: int, contacted_case: str, other_case: str) -> list[Call]:
    """Each operation at least once with a 2xx answer; the upload itself is posted by the fixture."""
    return [
        Call("zc_agent", "get", "/cases?limit=5", 200, items=True),
        Call("ops", "get", "/cases?limit=5&agency=ZC&placement=any&sort=-days_past_due", 200, items=True),
        Call("zc_agent", "get", f"/cases/{contacted_case}", 200),
        Call("ops", "get", f"/cases/{contacted_case}", 200),
        Call("zc_agent", "get", f"/cases/{contacted_case}/contacts?limit=2", 200, items=True),
        Call("ops", "post", f"/cases/{contacted_case}/flags", 200, body={"flag": "dispute", "reason": "letter"}),
        Call("compliance", "post", f"/cases/{contacted_case}/flags", 200, body={"flag": "dispute", "reason": "r"}),
        Call("ops", "post", f"/cases/{contacted_case}/flags", 422, body={"flag": "cease", "reason": " "}),
        Call("zc_agent", "post", f"/cases/{contacted_case}/flags", 403, body={"flag": "cease", "reason": "x"}),
        Call("ops", "get", f"/cases/{contacted_case}/flags", 200, items=True),
        Call("zc_agent", "get", f"/cases/{contacted_case}/flags", 403),
        Call("zc_agent", "get", f"/cases/{other_case}/flags", 404),
        Call("zc_agent", "get", "/uploads?limit=5", 200, items=True),
        Call("zc_agent", "get", f"/uploads/{upload_id}", 200),
        Call("zc_agent", "get", f"/uploads/{upload_id}/errors.csv", 200),
        Call("compliance", "get", "/findings?limit=5", 200, items=True),
        Call("zc_agent", "get", "/me", 200),
        Call("ops", "get", "/me", 200),
        Call("compliance", "get", "/audit/events?limit=5&action=upload:", 200, items=True),
        Call("admin", "get", "/audit/verify", 200),
        Call("compliance", "get", "/audit/checkpoint", 200),
        Call("zc_agent", "get", "/audit/public-key", 200),
        Call("compliance", "get", "/audit/proof/inclusion?seq=1", 200),
        Call("compliance", "get", "/audit/proof/consistency?from=1", 200),
        Call(None, "get", "/openapi.json", 200),
        # Errors answer in the document's Error shape, with a documented status.
        Call(None, "get", "/cases", 401),
        Call("zc_agent", "get", "/cases?limit=0", 400),
        Call("zc_agent", "get", f"/cases/{other_case}", 404),
        Call("zc_agent", "get", "/audit/verify", 403),
        Call("zc_agent", "get", "/findings?status=nonsense", 400),
    ]


@pytest.fixture
def api(app: Flask, world: dict[str, str]):
    class WatchedRequest(app.request_class):
        @cached_property
        def args(self):
            return _WatchedArgs(super().args)

    app.request_class = WatchedRequest
    tokens: dict[str, str] = {}
    with app.app_context():
        for who, email in world.items():
            tokens[who] = create_token(actor=Actor.system(source="test"), user=get_user_by_email(email), label="api")[1]

    def call(who: str | None, method: str, url: str, **kwargs: Any):
        headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
        _ARGS_READ.clear()
        return app.test_client().open(PREFIX + url, method=method.upper(), headers=headers, **kwargs)

    return call


def _problems(doc: dict[str, Any], label: str, schema: dict[str, Any], body: Any) -> list[str]:
    # The components sit beside the schema so that its "#/components/schemas/..." references resolve.
    validator = Draft202012Validator({"components": doc["components"], **schema})
    problems: dict[str, None] = {}  # one line per field, not per list item
    for error in sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path]):
        where = re.sub(r"\[\d+\]", "[*]", error.json_path)
        problems[f"{label} at {where}: {_explain(error)}"] = None
    return list(problems)


def _explain(error: ValidationError) -> str:
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"the answer has field(s) {extra} that the document lacks: {HINT}"
    if error.validator == "required":
        return f"the answer lacks a field the document requires: {error.message}"
    return error.message


def _check(app: Flask, doc: dict[str, Any], call: Call, response) -> list[str]:
    path = call.url.split("?", 1)[0]
    rule, _ = app.url_map.bind("localhost").match(PREFIX + path, method=call.method.upper(), return_rule=True)
    documented_path = _documented_path(rule.rule)
    label = f"{call.method.upper()} {documented_path} ({response.status_code}, as {call.who or 'anonymous'})"
    if response.status_code != call.status:
        return [f"{label}: expected {call.status}: {response.get_data(as_text=True)[:300]}"]
    operation = doc["paths"][documented_path][call.method]
    problems = []
    documented_args = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    if undocumented := sorted(_ARGS_READ - documented_args):
        problems.append(f"{label}: the handler reads query parameter(s) {undocumented} that the document lacks")
    answer = operation["responses"].get(str(response.status_code))
    if answer is None:
        return [*problems, f"{label}: status {response.status_code} is not documented"]
    content = answer.get("content", {})
    if response.mimetype not in content:
        return [*problems, f"{label}: answered {response.mimetype}, documented {sorted(content)}"]
    if response.mimetype != "application/json":
        return problems
    body = response.json
    if call.items and not body.get("items"):
        problems.append(f"{label}: the call must return items so that their fields are checked")
    return problems + _problems(doc, label, content["application/json"]["schema"], body)


def test_every_endpoint_answers_what_the_document_says(app, doc, api):
    # The last row is from before the case was placed with ZC: a rejected row and a placement_inactive finding.
    contacts = (DATA / "contacts_canonical.csv").read_bytes() + OUTSIDE_PLACEMENT
    contacted_case = contacts.decode().splitlines()[1].split(",", 1)[0]
    problems: list[str] = []
    posted = [
        api("zc_agent", "post", "/uploads", data={"kind": "contacts", "file": (io.BytesIO(contacts), "c.csv")})
        for _ in range(2)  # the second time: the same bytes, the first upload with duplicate true
    ]
    for response, status in zip(posted, (202, 200), strict=True):
        problems += _check(app, doc, Call("zc_agent", "post", "/uploads", status), response)
    upload_id = posted[0].json["id"]
    other_case = next(
        item["case_ref"] for item in api("ops", "get", "/cases?agency=HX&limit=1").json["items"]
    )  # placed with HX: ZC's agent gets the 404 of a case that does not exist

    calls = _calls(upload_id, contacted_case, other_case)
    for call in calls:
        sent = {} if call.body is None else {"json": call.body}
        problems += _check(app, doc, call, api(call.who, call.method, call.url, **sent))

    called = {(c.method, _documented_path(_rule(app, c))) for c in [*calls, Call(None, "post", "/uploads", 202)]}
    if missing := sorted(_operations(doc) - called):
        problems.append(f"no call checks {missing}: add one to _calls in tests/api/test_openapi.py")
    assert not problems, "the API and its OpenAPI document differ:\n" + "\n".join(problems)


def _rule(app: Flask, call: Call) -> str:
    path = PREFIX + call.url.split("?", 1)[0]
    rule, _ = app.url_map.bind("localhost").match(path, method=call.method.upper(), return_rule=True)
    return rule.rule
