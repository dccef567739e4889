"""The Simplified Chinese catalog is complete, current and compiled, and pages switch language.

English is the source language (msgids are English), so the only catalog is Simplified Chinese.
It lives in ``portal/translations/zh_Hans_CN`` and not ``zh_CN``: Babel expands the portal's
``zh_CN`` locale to ``zh_Hans_CN`` and Flask-Babel looks for a directory of exactly that name
(see ``test_catalog_is_found_for_every_supported_locale``).

Refresh everything with ``make translations`` (extract, update, compile), then translate any new
entry in the .po and run it again.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from babel import Locale, support
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from tests.conftest import login

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "portal" / "translations"
CATALOG_DIR = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES"
PO = CATALOG_DIR / "messages.po"
MO = CATALOG_DIR / "messages.mo"
# The same keywords as `pybabel extract -k _l -k lazy_gettext` in the Makefile.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}

# Any %-conversion (named or not), a %% escape, or a stray % that would break `msg % values`.
PERCENT = re.compile(r"%(?:\((?P<name>\w+)\))?[#0 +-]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa%]|%")


def _catalog() -> Catalog:
    with PO.open("rb") as fh:
        return read_po(fh)


def _texts(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


def _placeholders(text: str) -> tuple[set[str], Counter[str]]:
    """Named placeholders, and a count of every other %-token (``%s``, ``%%``, a stray ``%``)."""
    named, other = set(), Counter()
    for match in PERCENT.finditer(text):
        if match["name"]:
            named.add(match["name"])
        else:
            other[match.group()] += 1
    return named, other


def _where(message) -> str:
    return ", ".join(f"{path}:{line}" for path, line in message.locations) or "?"


# --- (a) the committed catalog is complete ----------------------------------------------------------


def test_catalog_header_is_for_simplified_chinese() -> None:
    catalog = _catalog()
    assert not catalog.fuzzy, "the .po header is marked fuzzy: pybabel compile would skip the catalog"
    assert catalog.locale == Locale.parse("zh_CN")
    assert catalog.num_plurals == 1
    assert catalog.plural_expr == "0"


def test_every_entry_is_translated_and_not_fuzzy() -> None:
    catalog = _catalog()
    untranslated = [m.id for m in catalog if m.id and not all(_texts(m.string))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not untranslated, f"untranslated msgids in {PO.name}: {untranslated}"
    assert not fuzzy, f"fuzzy entries in {PO.name} (review the translation, then drop the flag): {fuzzy}"


def test_translations_keep_every_placeholder() -> None:
    catalog = _catalog()
    problems = []
    for message in catalog:
        if not message.id:
            continue
        expected_named, expected_other = _placeholders(_texts(message.id)[0])
        if isinstance(message.id, tuple):  # a plural's msgid_plural may use more names than its msgid
            expected_named |= _placeholders(message.id[1])[0]
        for text in _texts(message.string):
            named, other = _placeholders(text)
            if named != expected_named or other != expected_other:
                problems.append(f"{message.id!r} -> {text!r} ({_where(message)})")
    assert not problems, "placeholders differ between msgid and msgstr:\n" + "\n".join(problems)
    # Babel's own checkers (python-format compatibility) agree.
    errors = [(message.id, [str(e) for e in errs]) for message, errs in catalog.check()]
    assert not errors, errors


# --- (b) the catalog covers every string in the code ------------------------------------------------


def _extract() -> Catalog:
    """What `pybabel extract -F babel.cfg -k _l -k lazy_gettext .` finds, without a subprocess."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, "babel.cfg")
    extracted = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        extracted.add(message, None, [(Path(filename).as_posix(), lineno)], auto_comments=comments, context=context)
    return extracted


def test_extraction_finds_no_string_missing_from_the_catalog() -> None:
    extracted = _extract()
    assert len([m for m in extracted if m.id]) > 100, "the extractor found almost nothing: is babel.cfg broken?"
    sources = {path.split("/", 1)[0] for m in extracted for path, _line in m.locations}
    assert sources <= {"portal", "templates", "adapters"}, sources
    # Adapters and the plugin contract show no UI of their own; only their row and file messages,
    # marked with N_(), are translated (by the host, when it shows them).
    assert not [p for m in extracted for p, _ in m.locations if p.startswith("portal/testing/")]

    catalog = _catalog()
    missing = [f"{m.id!r} ({_where(m)})" for m in extracted if m.id and catalog.get(m.id, context=m.context) is None]
    assert not missing, (
        "strings in the code that the zh_Hans_CN catalog lacks; run `make translations`, "
        "translate them in " + PO.relative_to(ROOT).as_posix() + " and run it again:\n" + "\n".join(missing)
    )


# --- (c) the compiled catalog matches the .po -------------------------------------------------------


def _table(catalog: Catalog) -> dict[tuple[object, object], object]:
    # read_mo gives plural ids and strings as lists, read_po as tuples.
    def frozen(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {(frozen(m.id), m.context): frozen(m.string) for m in catalog if m.id}


def test_compiled_catalog_matches_the_po(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.mo"
    with fresh.open("wb") as fh:
        write_mo(fh, _catalog())  # what `pybabel compile` writes (fuzzy entries left out)
    with fresh.open("rb") as fh:
        expected = read_mo(fh)
    assert MO.exists(), "messages.mo is missing: run `make translations`"
    with MO.open("rb") as fh:
        committed = read_mo(fh)
    want, have = _table(expected), _table(committed)
    differing = {
        key: (have.get(key), want.get(key)) for key in want.keys() | have.keys() if have.get(key) != want.get(key)
    }
    assert not differing, f"messages.mo is older than messages.po; run `make translations`. (mo, po): {differing}"
    assert committed.num_plurals == expected.num_plurals


def test_catalog_is_found_for_every_supported_locale() -> None:
    """Flask-Babel loads ``str(Locale.parse(code))``, i.e. zh_Hans_CN for the portal's zh_CN."""
    from portal.i18n import SUPPORTED_LOCALES

    for code in SUPPORTED_LOCALES:
        if Locale.parse(code).language == "en":
            continue
        translations = support.Translations.load(str(TRANSLATIONS), [Locale.parse(code)])
        assert isinstance(translations, support.Translations), f"no catalog directory Babel finds for {code}"
        assert translations.gettext("Cases") == "案件"


# --- (d) rendered pages follow the viewer's language and timezone -----------------------------------


def _heading(page: str) -> str:
    match = re.search(r"<h1>(.*?)</h1>", page, re.S)
    assert match, "no <h1> on the page"
    return match.group(1).strip()


def test_pages_switch_language_and_format_for_the_locale(client, world) -> None:
    login(client, world["zc_agent"])

    # Agency users get Chinese by default, even from an English browser.
    page = client.get("/cases/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert _heading(page).startswith("案件")
    assert "<th>债务人</th>" in page

    detail = client.get("/cases/ZY202600001").get_data(as_text=True)
    assert "<strong>¥10,186.50</strong>" in detail
    assert "CN¥" not in detail
    # Placed 2026-11-01T00:00:00+08:00, shown in the agency's Asia/Shanghai, not in UTC (Oct 31, 16:00).
    assert "<dt>委案时间</dt><dd>2026年11月1日 00:00:00</dd>" in detail
    assert "10月31日" not in detail and "16:00" not in detail
    assert "时间均按 Asia/Shanghai 时区显示。" in detail

    response = client.post("/locale", data={"locale": "en", "next": "/cases/"})
    assert response.status_code == 302

    page = client.get("/cases/").get_data(as_text=True)
    assert _heading(page).startswith("Cases")
    assert "<th>Debtor</th>" in page

    detail = client.get("/cases/ZY202600001").get_data(as_text=True)
    assert "<strong>CN¥10,186.50</strong>" in detail
    assert "<dt>Placed</dt><dd>Nov 1, 2026, 12:00:00\u202fAM</dd>" in detail  # CLDR's en medium format
    assert "Oct 31" not in detail and "4:00:00" not in detail
    assert "Times are shown in Asia/Shanghai." in detail


@pytest.mark.parametrize(("accept", "title"), [("zh-CN,zh;q=0.9", "登录"), ("en-US,en;q=0.9", "Log in")])
def test_login_page_follows_the_browser_language(client, accept: str, title: str) -> None:
    page = client.get("/login", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert _heading(page) == title
