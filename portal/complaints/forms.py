"""Forms of the complaints register: registering, an agency's response, closing."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from portal.complaints.labels import CATEGORY, CHANNEL, OUTCOME
from portal.complaints.services import NOTE_MAX, RESPONSE_MAX, SUMMARY_MAX


def _choices(table):
    # A callable: the labels are read in the viewer's language each time the form renders.
    return lambda: [SelectChoice(code, text) for code, text in table.items()]


class ComplaintForm(FlaskForm):
    agency = SelectField(_l("Agency complained about"), choices=[], validators=[DataRequired()])
    case_ref = StringField(_l("Case (optional)"), validators=[Optional(), Length(max=40)])
    collector_id = StringField(_l("Collector code (optional)"), validators=[Optional(), Length(max=60)])
    category = SelectField(_l("Category"), choices=_choices(CATEGORY), validators=[DataRequired()])
    channel = SelectField(_l("Received through"), choices=_choices(CHANNEL), validators=[DataRequired()])
    received_on = DateField(_l("Received on"), validators=[DataRequired()])
    response_due_on = DateField(_l("Response due by (empty: the default deadline)"), validators=[Optional()])
    complainant_name = StringField(_l("Complainant's name (optional)"), validators=[Optional(), Length(max=100)])
    complainant_phone = StringField(_l("Complainant's phone (optional)"), validators=[Optional(), Length(max=20)])
    summary = TextAreaField(_l("What the complaint says"), validators=[DataRequired(), Length(max=SUMMARY_MAX)])
    notes = TextAreaField(
        _l("Lender's notes (never shown to the agency)"), validators=[Optional(), Length(max=NOTE_MAX)]
    )
    set_flag = BooleanField(_l("Set the case's complaint flag while the complaint is open"))


class ResponseForm(FlaskForm):
    text = TextAreaField(_l("Your agency's response"), validators=[DataRequired(), Length(max=RESPONSE_MAX)])


class CloseForm(FlaskForm):
    outcome = SelectField(_l("Outcome"), choices=_choices(OUTCOME), validators=[DataRequired()])
    closed_on = DateField(_l("Closed on"), validators=[Optional()])
    note = TextAreaField(_l("Closing note"), validators=[Optional(), Length(max=NOTE_MAX)])
    clear_flag = BooleanField(_l("Clear the case's complaint flag"))
