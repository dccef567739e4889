"""Locale and timezone selection, and the template filters that format money, numbers and times."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import format_currency, format_date, format_datetime, format_decimal, get_locale
from flask_login import current_user

from portal.labels import label, vocabularies

SUPPORTED_LOCALES = ("zh_CN", "en")
LOCALE_NAMES = {"zh_CN": "简体中文", "en": "English"}


def select_locale() -> str:
    if not has_request_context():
        # Commands and workers: messages are stored and logged in English, the source language.
        return "en"
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


# CLDR's zh "long" and "full" put the zone between date and time ("2026年12月2日 +0800 12:56:59"), and en
# "full" spells it out. With the zone, a time is the locale's medium date and time followed by one UTC offset.
ZONED_STYLES = ("long", "full")


def when(value: datetime | None, style: str = "medium") -> str:
    """A moment in the viewer's timezone: ``short`` or ``medium`` (the default) without the zone, which the
    page footer names; ``long`` adds the offset once, at the end (``2026年12月2日 12:56:59 +08:00``,
    ``Dec 2, 2026, 12:56:59 PM +08:00``).
    """
    if value is None:
        return ""
    if style in ZONED_STYLES:
        return f"{format_datetime(value, 'medium')} {format_datetime(value, 'xxx')}"
    return format_datetime(value, style if style in ("short", "medium") else "medium")


def day(value: date | datetime | None) -> str:
    return "" if value is None else format_date(value, "medium")


def init_i18n(app: Flask) -> None:
    app.add_template_filter(money, "money")
    app.add_template_filter(number, "number")
    app.add_template_filter(when, "when")
    app.add_template_filter(day, "day")
    app.extensions["portal.vocabularies"] = vocabularies()
    app.jinja_env.globals["label"] = label
    app.jinja_env.globals["format_label"] = format_label
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
    return label("role", role)


def party_label(party: str) -> str:
    return label("party", party)


def product_label(product: str) -> str:
    """Known loan products get a translated name; others show the lender's own code."""
    return label("product", product)


def channel_label(channel: str) -> str:
    return label("channel", channel)


def end_reason_label(reason: str | None) -> str:
    return label("end_reason", reason)


def kind_label(kind: str) -> str:
    return label("kind", kind)


def format_label(format_key: str | None) -> str:
    """A file format's name in the viewer's language; a format no longer installed shows its key."""
    if not format_key:
        return ""
    from portal.plugins import list_formats

    for item in list_formats(current_app.extensions["portal.plugins"]):
        if item.key == format_key:
            return item.format.label_for(str(get_locale()))
    return format_key
