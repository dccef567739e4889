"""Service errors, API errors, CLI failures and lender-file row errors follow the reader's language.

Also a meta-test: the sources that raise user-facing errors may not raise one with a plain English
literal, so untranslated messages cannot creep back in.
"""

from __future__ import annotations

import ast
import io
import json
from pathlib import Path

import pytest
from markupsafe import escape

from tests.conftest import PASSWORD, login

ROOT = Path(__file__).resolve().parent.parent


# --- flashed service errors ---------------------------------------------------------------------------


def _change_password(client, current: str) -> str:
    data = {"current_password": current, "new_password": "a-new-password-77", "confirm": "a-new-password-77"}
    return client.post("/account/password", data=data, follow_redirects=True).get_data(as_text=True)


def test_a_chinese_agency_user_reads_a_service_error_in_chinese(client, world):
    login(client, world["zc_agent"])
    page = _change_password(client, "not-my-password")
    assert "当前密码错误" in page
    assert "current password is wrong" not in page


def test_an_english_user_reads_it_in_english(client, world):
    login(client, world["zc_agent"])
    client.post("/locale", data={"locale": "en", "next": "/cases/"})
    page = _change_password(client, "not-my-password")
    assert "current password is wrong" in page and "当前密码错误" not in page


def test_a_flashed_error_keeps_its_values_untranslated_and_escaped(client, world):
    login(client, world["zc_admin"])
    data = {"email": "<b>x</b>@zc.example.com", "role": "agency_agent", "agency": "ZC", "password": PASSWORD}
    page = client.post("/users/new", data=data, follow_redirects=True).get_data(as_text=True)
    assert "不是有效的邮箱地址" in page
    assert "<b>x</b>" not in page and str(escape("<b>x</b>@zc.example.com")) in page


# --- the API ----------------------------------------------------------------------------------------


def _token(app, email: str) -> str:
    from portal.accounts.services import create_token, get_user_by_email
    from portal.security import Actor

    with app.app_context():
        _token, clear = create_token(actor=Actor.system(source="test"), user=get_user_by_email(email), label="t")
    return clear


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "status must be one of"),
        ("en-US,en;q=0.9", "status must be one of"),
        ("zh-CN,zh;q=0.9", "status 必须是以下之一"),
    ],
)
def test_api_service_errors_follow_accept_language_and_keep_their_code(app, client, world, accept, expected):
    headers = {"Authorization": f"Bearer {_token(app, world['compliance'])}"}
    if accept:
        headers["Accept-Language"] = accept
    response = client.get("/api/v1/findings?status=nonsense", headers=headers)
    assert response.status_code == 400
    error = response.json["error"]
    assert error["code"] == "invalid_parameter"
    assert error["message"].startswith(expected)
    assert "open" in error["message"]  # the contract's values stay as they are


@pytest.mark.parametrize(
    ("path", "method", "status", "code", "english", "chinese"),
    [
        ("/api/v1/cases", "get", 401, "unauthorized", "send an API token", "请以“Authorization: Bearer"),
        ("/api/v1/no-such-thing", "get", 404, "not_found", "not found", "未找到"),
        ("/api/v1/cases", "delete", 405, "method_not_allowed", "this method is not allowed here", "此处不允许"),
    ],
)
def test_api_http_errors_are_translated(client, world, path, method, status, code, english, chinese):
    for accept, text in (("en", english), ("zh-CN", chinese)):
        response = getattr(client, method)(path, headers={"Accept-Language": accept})
        assert response.status_code == status
        assert response.json["error"]["code"] == code
        assert response.json["error"]["message"].startswith(text), response.json


def test_a_bad_token_is_refused_in_the_callers_language(client, world):
    headers = {"Authorization": "Bearer pt_nope", "Accept-Language": "zh-CN"}
    response = client.get("/api/v1/cases", headers=headers)
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    assert response.json["error"]["message"] == "API 令牌不存在、已撤销或属于已停用的用户"


def test_the_token_users_saved_language_wins(app, client, world):
    from portal.accounts.services import get_user_by_email
    from portal.extensions import db

    with app.app_context():
        get_user_by_email(world["compliance"]).locale = "zh_CN"
        db.session.commit()
    headers = {"Authorization": f"Bearer {_token(app, world['compliance'])}", "Accept-Language": "en"}
    response = client.get("/api/v1/findings?limit=x", headers=headers)
    assert response.json["error"] == {"code": "invalid_parameter", "message": "limit 必须是 1 到 500 之间的整数"}


# --- the command line ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LC_ALL": "", "LC_MESSAGES": "", "LANG": ""}, "error: unknown agency 'NOPE'\n"),
        ({"LC_ALL": "", "LC_MESSAGES": "", "LANG": "en_US.UTF-8"}, "error: unknown agency 'NOPE'\n"),
        ({"LC_ALL": "", "LC_MESSAGES": "", "LANG": "zh_CN.UTF-8"}, "error: 未知机构“NOPE”\n"),
        ({"LC_ALL": "C", "LC_MESSAGES": "", "LANG": "zh_CN.UTF-8"}, "error: unknown agency 'NOPE'\n"),
    ],
)
def test_the_cli_speaks_english_unless_the_shell_asks_for_chinese(runner, world, tmp_path, env, expected):
    path = tmp_path / "contacts.csv"
    path.write_text("case_ref\n")
    result = runner.invoke(args=["uploads", "ingest", str(path), "--agency", "NOPE", "--kind", "contacts"], env=env)
    assert result.exit_code == 1 and result.stderr == expected


def test_cli_row_errors_follow_the_shell_language_too(runner, ctx, tmp_path):
    from tests.cases.test_importing import GOOD, HEADER

    path = tmp_path / "cases.csv"
    path.write_text(HEADER + GOOD.replace("800.50", "-1"), encoding="utf-8")
    result = runner.invoke(args=["cases", "import", str(path), "--json"], env={"LC_ALL": "zh_CN.UTF-8"})
    assert json.loads(result.stdout)["errors"][0]["message"] == "outstanding_balance 必须大于或等于 0"


# --- lender files on the import page -----------------------------------------------------------------


def test_the_import_page_shows_row_errors_in_chinese_by_file_line(client, world):
    from tests.cases.test_importing import GOOD, HEADER

    login(client, world["ops"])
    content = HEADER + "\n" + GOOD.replace("ZY1,", "ZY9,").replace("800.50", "-1")  # a blank line 2
    data = {"action": "import", "cases-file": (io.BytesIO(content.encode()), "cases.csv")}
    page = client.post(
        "/cases/import", data=data, content_type="multipart/form-data", headers={"Accept-Language": "zh-CN"}
    ).get_data(as_text=True)
    assert "outstanding_balance 必须大于或等于 0" in page
    assert "<th>行号</th>" in page
    assert '<td class="num">3</td><td>outstanding_balance</td>' in page  # the header is line 1, line 2 blank
    assert "must be 0 or more" not in page


# --- no untranslated messages in the sources ----------------------------------------------------------

OWNED_SOURCES = [
    "portal/errors.py",
    "portal/cli.py",
    "portal/accounts",
    "portal/agencies",
    "portal/cases/importing.py",
    "portal/cases/placing.py",
    "portal/cases/validation.py",
    "portal/csvfiles.py",
    "portal/uploads/views.py",
    "portal/uploads/forms.py",
    "portal/uploads/services.py",
    "portal/uploads/storage.py",
    "portal/uploads/cli.py",
    "portal/compliance",
    "portal/api/__init__.py",
    "portal/api/findings.py",
    "portal/api/cases.py",
    "portal/audit/trail.py",
    "portal/audit/views.py",
]
# Errors a person reads: every PortalError, the row problems of lender files, and the plugins' format errors
# as the upload service raises them. Programmer errors (RuntimeError, ValueError...) may stay English.
USER_FACING = {"UnknownFormatError"}
# Where the message is among the positional arguments, for calls whose message is not the first one.
MESSAGE_POSITION = {"RowProblem": 2, "RowError": 3, "error_response": 1, "flash": 0, "fail": 0}


def _user_facing_names() -> set[str]:
    import portal.errors

    names = set(USER_FACING)
    pending = [portal.errors.PortalError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return names


def _sources() -> list[Path]:
    files: list[Path] = []
    for entry in OWNED_SOURCES:
        path = ROOT / entry
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def _is_plain_text(node: ast.expr) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(node, ast.JoinedStr)


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def test_no_user_facing_error_or_flash_is_a_plain_english_literal():
    # Importing the app's modules registers every PortalError subclass before the names are collected.
    from portal import create_app  # noqa: F401
    from portal.blueprints import register  # noqa: F401

    facing = _user_facing_names()
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = _name(node.func)
            if name not in facing and name not in MESSAGE_POSITION:
                continue
            position = MESSAGE_POSITION.get(name, 0)
            if position < len(node.args) and _is_plain_text(node.args[position]):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}({ast.unparse(node.args[position])[:60]})")
    assert not found, "wrap these messages in _l(...) (portal.errors) or _(...):\n" + "\n".join(found)


def test_the_meta_test_catches_a_plain_literal(tmp_path):
    sample = 'raise ValidationError(f"unknown agency {code!r}", field="agency")\nflash("Saved.", "info")\n'
    calls = [n for n in ast.walk(ast.parse(sample)) if isinstance(n, ast.Call) and n.args]
    assert [_name(c.func) for c in calls if _is_plain_text(c.args[MESSAGE_POSITION.get(_name(c.func), 0)])] == [
        "ValidationError",
        "flash",
    ]
