"""Locale and timezone selection, and the template filters that format money, numbers and times."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask, current_app, g, request, session
from flask_babel import format_currency, format_date, format_datetime, format_decimal, get_locale
from flask_login import current_user

SUPPORTED_LOCALES = ("zh_CN", "en")
LOCALE_NAMES = {"zh_CN": "简体中文", "en": "English"}


def select_locale() -> str:
    if request.blueprint == "api":
        return api_locale()
    if current_user.is_authenticated and current_user.locale in SUPPORTED_LOCALES:
        return current_user.locale
    if session.get("locale") in SUPPORTED_LOCALES:
        return session["locale"]
    if current_user.is_authenticated and current_user.is_agency_user:
        return "zh_CN"
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"], default="zh-CN")
    return "en" if best == "en" else "zh_CN"


def api_locale() -> str:
    """An API caller's language: the token user's saved locale, else ``Accept-Language``, else English.

    Programs that send no preference get English, the language of the contract's codes.
    """
    user = g.get("api_user")
    if user is not None and user.locale in SUPPORTED_LOCALES:
        return user.locale
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"], default="en")
    return "en" if best == "en" else "zh_CN"


def viewer_timezone() -> str:
    """The viewer's own timezone, else their agency's, else the lender's."""
    if current_user.is_authenticated:
        if current_user.timezone:
            return current_user.timezone
        if current_user.agency is not None:
            return current_user.agency.timezone
    return current_app.config["PORTAL_TIMEZONE"]


def money(value: Decimal | None, currency: str = "CNY") -> str:
    if value is None:
        return ""
    return format_currency(value, currency)


def number(value: int | Decimal | None) -> str:
    return "" if value is None else format_decimal(value)


def when(value: datetime | None, style: str = "medium") -> str:
    return "" if value is None else format_datetime(value, style)


def day(value: date | datetime | None) -> str:
    return "" if value is None else format_date(value, "medium")


def init_i18n(app: Flask) -> None:
    app.add_template_filter(money, "money")
    app.add_template_filter(number, "number")
    app.add_template_filter(when, "when")
    app.add_template_filter(day, "day")
    app.jinja_env.globals["LOCALE_NAMES"] = LOCALE_NAMES
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["role_label"] = role_label
    app.jinja_env.globals["party_label"] = party_label
    app.jinja_env.globals["product_label"] = product_label
    app.jinja_env.globals["channel_label"] = channel_label
    app.jinja_env.globals["end_reason_label"] = end_reason_label
    app.jinja_env.globals["kind_label"] = kind_label
    app.jinja_env.globals["current_timezone_name"] = viewer_timezone


def role_label(role: str) -> str:
    from flask_babel import gettext as _

    labels = {
        "agency_agent": _("Agency agent"),
        "agency_admin": _("Agency administrator"),
        "lender_ops": _("Lender operations"),
        "compliance": _("Compliance officer"),
        "admin": _("System administrator"),
    }
    return labels.get(str(role), str(role))


def party_label(party: str) -> str:
    from flask_babel import gettext as _

    labels = {
        "debtor": _("debtor"),
        "spouse": _("spouse"),
        "parent": _("parent"),
        "relative": _("relative"),
        "colleague": _("colleague"),
        "friend": _("friend"),
        "emergency_contact": _("emergency contact"),
        "third_party": _("third party"),
        "unknown": _("unknown"),
    }
    return labels.get(party, party)


def product_label(product: str) -> str:
    """Known loan products get a translated name; others show the lender's own code."""
    from flask_babel import gettext as _

    labels = {
        "personal_loan": _("personal loan"),
        "auto_loan": _("auto loan"),
        "card_instalment": _("card instalment"),
        "consumer_durable": _("consumer durables loan"),
    }
    return labels.get(product, product)


def channel_label(channel: str) -> str:
    from flask_babel import gettext as _

    labels = {
        "call": _("call"),
        "sms": _("SMS"),
        "visit": _("visit"),
        "email": _("e-mail"),
        "letter": _("letter"),
        "im": _("instant message"),
    }
    return labels.get(channel, channel)


def end_reason_label(reason: str | None) -> str:
    from flask_babel import gettext as _

    labels = {"recalled": _("recalled"), "expired": _("expired"), "settled": _("settled"), "closed": _("closed")}
    return labels.get(reason or "", reason or "")


def kind_label(kind: str) -> str:
    from flask_babel import gettext as _

    return {"contacts": _("contact records"), "settlements": _("settlements")}.get(kind, kind)
