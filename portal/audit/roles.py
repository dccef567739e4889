"""The PostgreSQL role the portal runs as: what it may do to each table, and the GRANTs that give exactly that.

The owner role runs ``flask db upgrade`` and then ``flask audit grant APP_ROLE``; the portal
connects as APP_ROLE, which owns nothing, is no superuser, and may only read and append the
audit tables (docs/security.md, "Running as a non-superuser role").
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from portal.audit.models import APPEND_ONLY_TABLES
from portal.errors import PortalError, _l
from portal.extensions import db

# Tables the app reads but never writes.
READ_ONLY_TABLES = ("alembic_version",)


class RoleError(PortalError):
    """The role cannot be used as the portal's app role."""

    code = "invalid_role"
    status = 400


@dataclass
class RoleGrants:
    role: str
    statements: list[str]

    def as_dict(self) -> dict[str, object]:
        return {"role": self.role, "statements": self.statements}


def grant_statements(role: str, *, database: str, tables: list[str], quote) -> list[str]:
    """The SQL that gives ``role`` what the portal needs and nothing more, for these tables.

    Business tables: SELECT, INSERT, UPDATE, DELETE. Audit tables: SELECT and INSERT only (and
    UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES revoked in case they were granted before).
    Sequences: USAGE and SELECT (identity columns). Never TRUNCATE, never ownership, never CREATE.
    """
    who = quote(role)
    audit = [t for t in tables if t in APPEND_ONLY_TABLES]
    read_only = [t for t in tables if t in READ_ONLY_TABLES]
    business = [t for t in tables if t not in APPEND_ONLY_TABLES and t not in READ_ONLY_TABLES]

    def names(items: list[str]) -> str:
        return ", ".join(quote(t) for t in items)

    statements = [
        f"GRANT CONNECT ON DATABASE {quote(database)} TO {who}",
        f"GRANT USAGE ON SCHEMA public TO {who}",
        f"REVOKE CREATE ON SCHEMA public FROM {who}",
    ]
    if business:
        statements.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {names(business)} TO {who}")
        statements.append(f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON {names(business)} FROM {who}")
    if audit:
        statements.append(f"GRANT SELECT, INSERT ON {names(audit)} TO {who}")
        statements.append(f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {names(audit)} FROM {who}")
    if read_only:
        statements.append(f"GRANT SELECT ON {names(read_only)} TO {who}")
        statements.append(
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {names(read_only)} FROM {who}"
        )
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}")
    return statements


def grant_app_role(*, role: str, dry_run: bool = False, session: Session | None = None) -> RoleGrants:
    """Give ``role`` the portal's privileges on every table of the current schema; run as the tables' owner.

    Refuses a role that does not exist, is a superuser, may bypass row security or replication
    rules, or owns an audit table: such a role could switch the audit triggers off. Idempotent:
    run it again after every ``flask db upgrade`` (new tables get their grants).
    """
    session = session or db.session()
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        raise RoleError(_l("database roles exist on PostgreSQL only"))
    row = session.execute(
        text("SELECT rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).one_or_none()
    if row is None:
        raise RoleError(_l("no database role '%(role)s'; create it first (CREATE ROLE ... LOGIN)", role=role))
    if any(row):
        raise RoleError(_l("'%(role)s' is a superuser or may bypass replication or row rules", role=role))
    owned = session.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
            "WHERE r.rolname = :role AND c.relname = ANY(:tables)"
        ),
        {"role": role, "tables": list(APPEND_ONLY_TABLES)},
    ).scalars()
    if list(owned):
        raise RoleError(_l("'%(role)s' owns the audit tables; the app role must own nothing", role=role))
    tables = list(
        session.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        ).scalars()
    )
    database = session.execute(text("SELECT current_database()")).scalar_one()
    statements = grant_statements(role, database=database, tables=tables, quote=bind.dialect.identifier_preparer.quote)
    if not dry_run:
        for statement in statements:
            session.execute(text(statement))
        session.commit()
    return RoleGrants(role=role, statements=statements)
