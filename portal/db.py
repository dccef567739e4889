"""Declarative base with naming conventions, and the shared column types (UTC times, money)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from sqlalchemy import DateTime, MetaData, Numeric, TypeDecorator, any_, bindparam
from sqlalchemy.orm import DeclarativeBase, mapped_column, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always hands back aware UTC datetimes.

    SQLite keeps no offset, so the value is normalised to naive UTC on the way in and
    re-labelled UTC on the way out; PostgreSQL stores ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone first")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def in_values(column, values, dialect: str):
    """``column IN values`` that stays one bind parameter on PostgreSQL (``= ANY(array)``).

    Thousands of expanded IN parameters cost more to send and plan than the query itself.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


# Public ids: a prefix naming the kind of object, "_", then 22 random characters of Crockford's
# base32 alphabet (110 bits). Tenants see these, never the integer keys, which count every agency's rows.
PUBLIC_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
PUBLIC_ID_LENGTH = 22


def new_public_id(prefix: str) -> str:
    """A random, unguessable, URL-safe id such as ``up_3k9x...``: what clients see instead of a row's key."""
    return prefix + "_" + "".join(secrets.choice(PUBLIC_ID_ALPHABET) for _ in range(PUBLIC_ID_LENGTH))


# References people read out on the phone: a prefix, "-", then 8 characters of the same alphabet in
# capitals (40 bits: a collision is unlikely and the column is unique). For objects that people name.
REFERENCE_ALPHABET = PUBLIC_ID_ALPHABET.upper()
REFERENCE_LENGTH = 8


def new_reference(prefix: str) -> str:
    """A short random reference such as ``CP-7K3QX9AB``: what people see and say instead of a row's key."""
    return prefix + "-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def utcnow() -> datetime:
    return datetime.now(UTC)


Money = Annotated[Decimal, mapped_column(Numeric(18, 2))]
UTCTime = Annotated[datetime, mapped_column(UTCDateTime())]


class Base(DeclarativeBase):
    # One registry carries both: SQLAlchemy refuses a per-base type map beside Flask-SQLAlchemy's registry.
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={Decimal: Numeric(18, 2), datetime: UTCDateTime()},
    )
