"""Forms of the restricted-periods calendar page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.compliance.calendar import NAME_MAX, REASON_MAX


class PeriodForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)])
    start_on = DateField(_l("First day"), validators=[DataRequired()])
    end_on = DateField(_l("Last day"), validators=[DataRequired()])
    regions = StringField(_l("Provinces or states (empty: nationwide)"), validators=[Optional(), Length(max=2000)])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=REASON_MAX)])


class EndPeriodForm(FlaskForm):
    last_day = DateField(_l("Last day in force"), validators=[DataRequired()])
    note = StringField(_l("Why it ends early"), validators=[DataRequired(), Length(max=REASON_MAX)])


class CancelPeriodForm(FlaskForm):
    note = StringField(_l("Why it is cancelled"), validators=[DataRequired(), Length(max=REASON_MAX)])
