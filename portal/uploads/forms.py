"""The upload form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice


class UploadForm(FlaskForm):
    kind = SelectField(_l("What the file holds"), choices=[SelectChoice("contacts"), SelectChoice("settlements")])
    adapter = SelectField(_l("File format"), choices=[SelectChoice("")], validate_choice=False)
    file = FileField(_l("File"), validators=[FileRequired()])
