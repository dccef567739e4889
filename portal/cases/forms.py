"""Forms for importing cases, placing them by hand, and setting and clearing flags on the case page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from portal.cases.flags import REASON_MAX
from portal.cases.models import FLAGS


class CasesImportForm(FlaskForm):
    file = FileField(_l("Cases file (UTF-8 CSV)"), validators=[FileRequired()])
    all_or_nothing = BooleanField(_l("Import nothing if any row is bad"))


class PlacementForm(FlaskForm):
    file = FileField(_l("Placement file (case_ref, agency, placed_at, expires_at)"), validators=[FileRequired()])


def _flag_choices() -> list[SelectChoice]:
    from portal.cases.labels import FLAG

    return [SelectChoice(code, FLAG[code]) for code in FLAGS]


class FlagSetForm(FlaskForm):
    """Lender staff set a flag on the case page: from a day (default the debtor's today), with a reason."""

    flag = SelectField(_l("Flag"), choices=_flag_choices, validators=[DataRequired()])
    from_day = DateField(_l("In force from (the debtor's day)"), validators=[Optional()])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=REASON_MAX)])


class FlagClearForm(FlaskForm):
    """One per flag in force: clears it now, with a reason."""

    flag = HiddenField(validators=[DataRequired()])
    reason = StringField(_l("Reason for clearing"), validators=[DataRequired(), Length(max=REASON_MAX)])
