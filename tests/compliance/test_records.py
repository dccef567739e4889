"""Rules on what a record says: recording_missing (CN) and prohibited_language (word lists as data)."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from portal.compliance.rules import WordLists
from portal.compliance.rules.wordlists import BUILTIN_DIR
from tests.compliance.builders import contact, engine, flagged, verdict

CN = engine("CN")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("fields", "raised"),
    [
        ({"outcome": "promise_to_pay", "recording_ref": None}, True),
        ({"outcome": "promise_to_pay", "recording_ref": "  "}, True),
        ({"outcome": "promise_to_pay", "recording_ref": "R-1"}, False),
        ({"outcome": "no_answer", "recording_ref": None}, False),
        ({"outcome": "other", "connected": True, "recording_ref": None}, True),
        ({"channel": "visit", "phone": None, "outcome": "no_answer", "recording_ref": None}, True),
        ({"channel": "sms", "outcome": "refused", "recording_ref": None}, False),
    ],
)
def test_recording_missing_on_a_conversation_by_call_or_a_visit(fields, raised):
    assert bool(flagged(CN, [contact("2026-11-25 10:00", **fields)], "recording_missing")) is raised


def test_recording_missing_is_not_a_us_rule():
    assert "recording_missing" not in {rule.id for rule in engine("US").rules}


@pytest.mark.parametrize(
    ("notes", "category"),
    [
        ("客户拒绝还款，告诉他再不还就打断你的腿", "threats"),
        ("打 断，你 的 腿", "threats"),  # spaces and punctuation
        ("ＫＩＬＬ　ＹＯＵ if you do not pay", "threats"),  # full-width forms and case
        ("said we will k.i.l.l you", "threats"),  # spaced-out letters
        ("你这个老赖", "insults"),
        ("told him he is a Deadbeat!", "insults"),
        ("我是法院的，已经立案", "impersonation"),
        ("This is the police, pay now", "impersonation"),
        ("再不还就通知你单位", "disclosure"),
        ("we will tell your employer about it", "disclosure"),
    ],
)
def test_prohibited_language_finds_each_category_in_both_languages(notes, category):
    found = verdict(CN, [contact("2026-11-25 10:00", notes=notes)], "prohibited_language")
    assert found is not None, notes
    assert WordLists.load().find(notes)[0].category == category


@pytest.mark.parametrize(
    "notes",
    [
        "客户承诺周五还款500元",
        "客户称已还款，要求提供凭证",
        "无人接听，稍后再拨",
        "客户表示正在走法院程序，已告知其可以提供材料",
        "客户的律师要求以后联系律师",
        "客户说家人会帮忙还款",
        "联系到本人，态度良好，约定下周回电",
        "Promised to pay 500 on Friday",
        "Debtor disputes the amount and asked for a statement; issue escalated",
        "Left voicemail, will call back tomorrow; spouse said debtor is at work",
        "Customer mentioned a court case with a former employer",
        "Discussed a payment plan; customer is closer to paying now, skill training course ends soon",
        "Customer will pursue a refund from the merchant",
    ],
)
def test_ordinary_collection_notes_raise_nothing(notes):
    assert flagged(CN, [contact("2026-11-25 10:00", notes=notes)], "prohibited_language") == []


def test_the_message_names_the_category_and_the_words():
    found = verdict(CN, [contact("2026-11-25 10:00", notes="你这个老赖，我是法院的")], "prohibited_language")
    assert found.message.render() == (
        "the notes contain prohibited words (insults, impersonating courts, police or lawyers): “老赖”, “我是法院的”"
    )


def test_a_lender_extends_and_trims_the_lists_without_code(tmp_path):
    (tmp_path / "threats.lender.txt").write_text("# our own\n让你破产\n!你全家\n", encoding="utf-8")
    (tmp_path / "harassment.txt").write_text("每小时打一次\n", encoding="utf-8")
    lists = WordLists.load([tmp_path])
    assert [m.category for m in lists.find("让 你 破 产")] == ["threats"]
    assert [m.category for m in lists.find("我们会每小时打一次")] == ["harassment"]
    assert WordLists.load().find("你全家") and not lists.find("你全家")
    rule_engine = engine("CN", wordlists=lists)
    assert flagged(rule_engine, [contact("2026-11-25 10:00", notes="让你破产")], "prohibited_language")


def test_the_lists_are_reasonable_and_shipped_in_the_wheel():
    lists = WordLists.load()
    assert set(lists.terms) == {"threats", "insults", "impersonation", "disclosure"}
    for category, terms in lists.terms.items():
        chinese = [t for t in terms if not t.isascii()]
        english = [t for t in terms if t.isascii()]
        assert 15 <= len(chinese) <= 80 and 15 <= len(english) <= 80, category
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    assert "compliance/wordlists/*.txt" in config.get("options.package_data", "portal")
    assert BUILTIN_DIR.relative_to(ROOT / "portal") == Path("compliance/wordlists")
