"""The agency form used to create and edit agencies."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.agencies.models import CHANNELS
from portal.i18n import channel_label


class AgencyForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=20)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    status = SelectField(_l("Status"), choices=[SelectChoice("active"), SelectChoice("suspended")])
    timezone = StringField(_l("Timezone"), default="Asia/Shanghai", validators=[DataRequired(), Length(max=64)])
    capacity = IntegerField(
        _l("Capacity (open cases; empty for no limit)"), validators=[Optional(), NumberRange(min=0)]
    )
    placement_term_days = IntegerField(
        _l("Placement term (days)"), default=90, validators=[DataRequired(), NumberRange(min=1, max=3650)]
    )
    commission = StringField(_l("Commission by bucket"), default="M1:0.08,M2:0.12,M3:0.18,M4+:0.25")
    channels = SelectMultipleField(
        _l("Allowed channels"),
        choices=[SelectChoice(c) for c in CHANNELS],
        default=list(CHANNELS),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    adapter = StringField(_l("Default adapter"), validators=[Optional(), Length(max=60)])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Labels are translated per request, so they are set here rather than on the class.
        self.channels.choices = [SelectChoice(c, channel_label(c)) for c in CHANNELS]
        self.status.choices = [SelectChoice("active", _("active")), SelectChoice("suspended", _("suspended"))]
