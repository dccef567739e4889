"""Field checks for the lender's cases file: each returns a clean value or raises RowProblem."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portal.cases.models import FLAGS
from portal.errors import Message, _l
from portal.plugins.fields import normalise_phone
from portal.plugins.records import PARTIES

_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-./]{0,39}$")


class RowProblem(Exception):
    """One bad value of a row; ``message`` is translated when shown."""

    def __init__(self, field: str, code: str, message: Message) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


def required(row: dict[str, str], name: str, *, max_length: int = 200) -> str:
    value = row.get(name, "").strip()
    if not value:
        raise RowProblem(name, "missing_field", _l("%(field)s is required", field=name))
    if len(value) > max_length:
        raise RowProblem(
            name, "invalid_value", _l("%(field)s is longer than %(length)s characters", field=name, length=max_length)
        )
    return value


def reference(row: dict[str, str], name: str) -> str:
    value = required(row, name, max_length=40)
    if not _REF.match(value):
        raise RowProblem(
            name,
            "invalid_value",
            _l("%(field)s '%(value)s' may hold only letters, digits and - _ . /", field=name, value=value),
        )
    return value


def phones(row: dict[str, str]) -> list[tuple[str, str]]:
    """``13800138000:debtor;13900139000:spouse`` -> ``[(number, party), ...]``, without repeats."""
    result: dict[str, str] = {}
    for item in row.get("phones", "").split(";"):
        if not item.strip():
            continue
        number, _, party = item.strip().partition(":")
        party = party.strip() or "debtor"
        normalised = normalise_phone(number.strip())
        if normalised is None:
            raise RowProblem(
                "phones", "invalid_phone", _l("'%(phone)s' is not a CN mobile or E.164 number", phone=number.strip())
            )
        if party not in PARTIES:
            raise RowProblem(
                "phones",
                "invalid_value",
                _l("unknown party '%(party)s' for %(phone)s", party=party, phone=number.strip()),
            )
        result.setdefault(normalised, party)
    return list(result.items())


_US_TAXPAYER_ID = re.compile(r"^(\d{3})-?(\d{2})-?(\d{4})$")


def id_number(row: dict[str, str], jurisdiction: str = "CN") -> str:
    """The debtor's identifier under the lender's profile (contract 5.3).

    CN: a PRC resident ID, 17 digits and a digit or X, with a real birth date in it. The check
    digit is not enforced: lenders' test and migrated records often carry numbers whose check
    digit was never computed, and refusing them would lose the case.
    US: a 9-digit SSN or ITIN, dashes allowed (stored as the 9 digits), or empty.
    """
    if jurisdiction == "US":
        text = row.get("id_number", "").strip()
        if not text:
            return ""
        match = _US_TAXPAYER_ID.match(text)
        if not match or not text.isascii():
            raise RowProblem(
                "id_number", "invalid_value", _l("id_number must be a 9-digit SSN or ITIN (dashes allowed) or empty")
            )
        return "".join(match.groups())
    value = required(row, "id_number", max_length=30).upper()
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise RowProblem("id_number", "invalid_value", _l("id_number must be an 18-character resident ID number"))
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise RowProblem("id_number", "invalid_value", _l("id_number holds no valid birth date")) from exc
    return value


def amount(row: dict[str, str], name: str) -> Decimal:
    text = required(row, name).replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise RowProblem(
            name, "invalid_amount", _l("%(field)s '%(value)s' is not a number", field=name, value=text)
        ) from exc
    if not value.is_finite() or value < 0:
        raise RowProblem(name, "invalid_amount", _l("%(field)s must be 0 or more", field=name))
    if value != value.quantize(Decimal("0.01")):
        raise RowProblem(name, "invalid_amount", _l("%(field)s has more than 2 decimals", field=name))
    if value >= Decimal("1e16"):
        raise RowProblem(name, "invalid_amount", _l("%(field)s is too large", field=name))
    return value.quantize(Decimal("0.01"))


def whole_number(row: dict[str, str], name: str) -> int:
    text = required(row, name)
    if not text.isdigit() or len(text) > 6:
        raise RowProblem(
            name,
            "invalid_value",
            _l("%(field)s '%(value)s' must be a whole number of days, 0 or more", field=name, value=text),
        )
    return int(text)


def currency(row: dict[str, str]) -> str:
    value = required(row, "currency", max_length=3).upper()
    if not (len(value) == 3 and value.isalpha()):
        raise RowProblem(
            "currency", "invalid_value", _l("currency '%(value)s' must be a 3-letter ISO 4217 code", value=value)
        )
    return value


def timezone(row: dict[str, str]) -> str | None:
    value = row.get("timezone", "").strip()
    if not value:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RowProblem("timezone", "invalid_value", _l("unknown timezone '%(name)s'", name=value)) from exc
    return value


def flags(row: dict[str, str]) -> dict[str, date | None]:
    """``cease;dispute@2026-11-21`` -> {"cease": None, "dispute": date(2026, 11, 21)}.

    A date is the day the flag took effect (the debtor's calendar day); without one the flag
    holds from before the case's first contact (contract 5.3).
    """
    result: dict[str, date | None] = {}
    for entry in (part.strip() for part in row.get("flags", "").split(";")):
        if not entry:
            continue
        name, at, when = (piece.strip() for piece in entry.partition("@"))
        if name not in FLAGS:
            raise RowProblem("flags", "invalid_value", _l("unknown flag %(flag)s", flag=name))
        day = None
        if at:
            try:
                if len(when) != 10:
                    raise ValueError(when)
                day = date.fromisoformat(when)
            except ValueError as exc:
                raise RowProblem(
                    "flags",
                    "invalid_date",
                    _l("flag %(flag)s: '%(value)s' is not a date (YYYY-MM-DD)", flag=name, value=when),
                ) from exc
        if name in result and result[name] != day:
            raise RowProblem("flags", "invalid_value", _l("flag %(flag)s is listed twice", flag=name))
        result[name] = day
    return result
