"""Imports every domain's models so that the metadata (and Alembic) sees all tables."""

from portal.accounts.models import ApiToken, User
from portal.agencies.models import Agency
from portal.audit.models import AuditEvent
from portal.cases.models import Case, CaseFlag, Customer, CustomerPhone, Placement

__all__ = ["Agency", "ApiToken", "AuditEvent", "Case", "CaseFlag", "Customer", "CustomerPhone", "Placement", "User"]
