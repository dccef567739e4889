"""Forms of the audit pages: the bundle export (filters of the search page are plain query strings)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional


class ExportForm(FlaskForm):
    since = DateField(_l("From (inclusive)"), validators=[Optional()])
    until = DateField(_l("Until (inclusive)"), validators=[Optional()])
    agency = SelectField(_l("Agency"), choices=[], validate_choice=True)
