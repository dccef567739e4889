"""Codes reach pages only through their labels: every contract code has one, in both languages, and pages show
no raw code as text (issue 8)."""

from __future__ import annotations

import html
import re

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.audit.tags import AuditTag
from portal.cases.models import FLAGS
from portal.extensions import db
from portal.labels import UnlabelledCodeError, label
from portal.plugins.records import CHANNELS, ISSUE_CODES, METHODS, OUTCOMES, PARTIES, SETTLEMENT_TYPES
from portal.security import Actor, Role
from portal.uploads.models import UPLOAD_STATUSES
from tests.conftest import DATA, import_file, login

# Contract section 8.
RULES = (
    "contact_hours",
    "daily_conversation_cap",
    "unanswered_attempt_cap",
    "call_frequency_7in7",
    "call_after_conversation",
    "third_party_contact",
    "unlisted_number",
    "cease_communication",
    "dispute_open",
    "deceased_or_bankrupt",
    "vulnerable_customer",
    "placement_inactive",
    "channel_not_allowed",
    "recording_missing",
    "prohibited_language",
    "waiver_over_limit",
    "restricted_period",
    "attempt_interval",
)
# Contract 4.3 and section 3 (recall reasons).
FINDING_STATUSES = ("open", "acknowledged", "confirmed", "dismissed", "superseded")
RECALL_REASONS = ("paid", "expired", "complaint", "performance", "mistake", "customer_request", "other")

SOURCES_OF_TRUTH = [
    ("channel", CHANNELS),
    ("party", PARTIES),
    ("outcome", OUTCOMES),
    ("method", METHODS),
    ("settlement_type", SETTLEMENT_TYPES),
    ("audit_action", tuple(str(tag) for tag in AuditTag)),
    ("audit_outcome", ("success", "failure")),
    ("flag", FLAGS),
    ("upload_status", UPLOAD_STATUSES),
    ("kind", ("contacts", "settlements")),
    ("role", tuple(str(role) for role in Role)),
    ("rule", RULES),
    ("finding_status", FINDING_STATUSES),
    ("end_reason", RECALL_REASONS),
    ("row_error", tuple(sorted(ISSUE_CODES))),
]
# The same word in both languages, on purpose.
SAME_IN_BOTH = {"API", "SHA-256"}


def _both(vocabulary: str, code: str) -> tuple[str, str]:
    with force_locale("en"):
        english = label(vocabulary, code)
    with force_locale("zh_CN"):
        chinese = label(vocabulary, code)
    return english, chinese


@pytest.mark.parametrize(("vocabulary", "codes"), SOURCES_OF_TRUTH, ids=[name for name, _ in SOURCES_OF_TRUTH])
def test_every_contract_code_has_a_label_in_both_languages(app, vocabulary: str, codes: tuple[str, ...]) -> None:
    table = app.extensions["portal.vocabularies"][vocabulary]
    assert table.closed, f"{vocabulary} is a contract enum: its vocabulary must be closed"
    assert set(codes) <= set(table.labels), f"{vocabulary} codes without a label: {set(codes) - set(table.labels)}"
    with app.test_request_context():
        untranslated = []
        for code in codes:
            english, chinese = _both(vocabulary, code)
            assert english, f"{vocabulary} {code}: an empty label"
            if not chinese or (chinese == english and english not in SAME_IN_BOTH):
                untranslated.append(f"{code} ({english!r})")
        assert not untranslated, f"{vocabulary}: no zh_CN translation in the compiled catalog for {untranslated}"


def test_every_label_of_every_vocabulary_is_translated(app) -> None:
    """Open vocabularies (sources, object types, products, detail fields) too: their known codes are labelled."""
    missing = []
    with app.test_request_context():
        for name, table in app.extensions["portal.vocabularies"].items():
            for code in table.labels:
                english, chinese = _both(name, code)
                if not chinese or (chinese == english and english not in SAME_IN_BOTH):
                    missing.append(f"{name}:{code} ({english!r})")
    assert not missing, "labels without a zh_CN translation: " + ", ".join(missing)


def test_an_unknown_code_of_a_closed_vocabulary_fails_under_tests_and_an_open_one_shows_itself(app) -> None:
    with app.test_request_context():
        with pytest.raises(UnlabelledCodeError):
            label("outcome", "shouted")
        assert label("product", "boat_loan") == "boat_loan"
        app.testing = False
        assert label("outcome", "shouted") == "shouted"  # production shows the code rather than failing the page


# --- (b) pages rendered with real data show no raw code --------------------------------------------------------

EXTRA_CONTACTS = (
    "case_ref,contacted_at,channel,party,phone,outcome,connected,duration_s,promise_amount,promise_date,"
    "collector_id,recording_ref,notes\n"
    "ZY202600001,2026-11-20 23:30:00,call,debtor,13177777868,no_answer,,,,,ZC001,,\n"
    "ZY202600001,2026-11-21 10:00:00,visit,debtor,,promise_to_pay,,,500.00,2026-11-30,ZC003,,\n"
    "ZY202600001,2026-11-21 11:00:00,sms,spouse,13900000000,left_message,,,,,ZC003,,\n"
    "ZY202600001,2026-11-22 12:00:00,call,debtor,13177777868,cease_request,,60,,,ZC003,REC9,\n"
    "ZY202600001,2026-11-23 12:00:00,letter,debtor,,other,,,,,ZC003,,\n"
)
# Ignored on purpose: a tag shown beside its label (<code class="tag">), hashes, and the raw JSON for experts.
DELIBERATE = re.compile(
    r'<code class="(?:tag|hash)[^"]*">.*?</code>|<pre class="json">.*?</pre>|<script.*?</script>|<style.*?</style>',
    re.S,
)
VISIBLE_ATTRIBUTES = re.compile(r'\b(?:placeholder|title|aria-label|alt)="([^"]*)"')
TAG = re.compile(r"<[^>]+>")


def visible_text(page: str) -> str:
    """What a reader sees: text without tags, plus the attributes a browser shows (placeholders, titles)."""
    page = DELIBERATE.sub(" ", page)
    shown = " ".join(VISIBLE_ATTRIBUTES.findall(page))
    return html.unescape(TAG.sub(" ", page) + " " + shown)


def raw_codes(text: str, codes: set[str]) -> set[str]:
    """Codes standing as whole words (not part of an e-mail, a file name, a path or another code)."""
    return {code for code in codes if re.search(rf"(?<![\w@./:-]){re.escape(code)}(?![\w@./:-])", text)}


def all_codes(app, *, english: bool) -> set[str]:
    """On a Chinese page any code is English left over; on an English page only the unmistakable ones
    (``no_answer``, ``case:flag:set``): "open" or "call" are also English words and labels."""
    codes = {code for table in app.extensions["portal.vocabularies"].values() for code in table.labels}
    return {c for c in codes if re.fullmatch(r"[a-z][a-z0-9_:]*", c) and (not english or re.search(r"[_:]", c))}


@pytest.fixture
def busy_world(app, world, runner, tmp_path):
    """The world, with contacts (some breaking rules), settlements, a recall and a flag: codes of every kind."""
    extra = tmp_path / "more_contacts.csv"
    extra.write_text(EXTRA_CONTACTS, encoding="utf-8")
    files = [(DATA / "contacts_canonical.csv", "contacts"), (extra, "contacts")]
    files.append((DATA / "settlements_canonical.csv", "settlements"))
    for path, kind in files:
        result = runner.invoke(
            args=["uploads", "ingest", str(path), "--agency", "ZC", "--kind", kind, "--user", world["zc_agent"]]
        )
        assert result.exit_code == 0, result.output
    with app.app_context():
        from portal.cases.models import Case, Placement
        from portal.cases.placing import end_placement

        placement = db.session.execute(
            select(Placement).join(Case).where(Case.case_ref == "ZY202600003", Placement.ended_at.is_(None))
        ).scalar_one()
        end_placement(actor=Actor.system(source="test"), placement=placement, reason="complaint")
        db.session.commit()
        cases = (DATA / "cases.csv").read_text(encoding="utf-8").splitlines()
        cases = [line + "dispute" if line.startswith("ZY202600001,") else line for line in cases]
        import_file(content=("\n".join(cases) + "\n").encode())
    return world


def lender_pages(app) -> list[str]:
    with app.app_context():
        first_of_each_action = db.session.execute(
            select(AuditEvent.action, db.func.min(AuditEvent.seq)).group_by(AuditEvent.action)
        ).all()
        from portal.uploads.models import Upload

        uploads = db.session.execute(select(Upload.public_id)).scalars().all()
    return (
        ["/audit/", "/audit/cases/ZY202600001", "/dashboard", "/uploads/", "/cases/", "/cases/ZY202600001"]
        + [f"/audit/event?seq={seq}" for _action, seq in first_of_each_action]
        + [f"/uploads/{upload_id}" for upload_id in uploads]
    )


def adapter_labels(app) -> dict[str, str]:
    """Built-in adapters' English labels that have a Chinese one: the English must not show on Chinese pages."""
    from portal.plugins.manager import list_formats

    with app.app_context():
        formats = list_formats(app.extensions["portal.plugins"])
        return {f.format.label: f.format.key for f in formats if f.format.label_for("zh_CN") != f.format.label}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize("who", ["compliance", "zc_agent"])
def test_pages_show_no_raw_code(app, client, busy_world, locale: str, who: str) -> None:
    login(client, busy_world[who])
    client.post("/locale", data={"locale": locale, "next": "/"})
    codes = all_codes(app, english=locale == "en")
    pages = lender_pages(app) if who == "compliance" else ["/cases/", "/cases/ZY202600001", "/uploads/"]
    english_adapter_labels = adapter_labels(app) if locale == "zh_CN" else {}
    problems = []
    for url in pages:
        response = client.get(url)
        if response.status_code in (302, 403):  # a page this role does not see
            continue
        assert response.status_code == 200, f"{url}: {response.status_code}"
        text = visible_text(response.get_data(as_text=True))
        found = raw_codes(text, codes) | {k for lbl, k in english_adapter_labels.items() if lbl in text}
        if found:
            problems.append(f"{url}: {sorted(found)}")
    assert not problems, f"raw codes on {locale} pages as {who}:\n" + "\n".join(problems)


def test_the_page_check_catches_a_raw_code() -> None:
    """The check itself: a raw outcome fails, a tag beside its label and an e-mail address do not."""
    page = (
        '<td><code>no_answer</code></td><td>已创建案件 <code class="tag small">case:case:create</code></td>'
        "<td>compliance@lender.example.com · contacts_canonical.csv</td>"
    )
    codes = {"no_answer", "case:case:create", "compliance", "contacts"}
    assert raw_codes(visible_text(page), codes) == {"no_answer"}
