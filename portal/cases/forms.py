"""Forms for importing cases and placing them by hand."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField


class CasesImportForm(FlaskForm):
    file = FileField(_l("Cases file (UTF-8 CSV)"), validators=[FileRequired()])
    all_or_nothing = BooleanField(_l("Import nothing if any row is bad"))


class PlacementForm(FlaskForm):
    file = FileField(_l("Placement file (case_ref, agency, placed_at, expires_at)"), validators=[FileRequired()])
