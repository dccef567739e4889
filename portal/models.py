"""Imports every domain's models so that the metadata (and Alembic) sees all tables."""

from portal.accounts.models import ApiToken, User
from portal.agencies.models import Agency
from portal.audit.models import AuditEvent
from portal.cases.models import Case, CaseFlag, Customer, CustomerPhone, Placement
from portal.complaints.models import Complaint, ComplaintResponse
from portal.compliance.calendar_models import CalendarPeriod
from portal.compliance.models import Finding
from portal.contacts.models import Contact
from portal.money.models import Settlement
from portal.uploads.models import Upload, UploadError

__all__ = [
    "Agency",
    "ApiToken",
    "AuditEvent",
    "CalendarPeriod",
    "Case",
    "CaseFlag",
    "Complaint",
    "ComplaintResponse",
    "Contact",
    "Customer",
    "CustomerPhone",
    "Finding",
    "Placement",
    "Settlement",
    "Upload",
    "UploadError",
    "User",
]
