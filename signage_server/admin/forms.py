"""The console's forms (Flask-WTF: every POST form carries a CSRF token).

Choices that depend on the signed-in user's scope (venues, areas) are filled in by the
views; WTForms then refuses any value that is not one of them.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from ..models.places import MAX_RETENTION_DAYS
from ..passwords import MIN_LENGTH
from .choices import options

AREA_KINDS = [("province", _l("Province")), ("district", _l("District"))]
VENUE_KINDS = [("office", _l("Office")), ("bus_station", _l("Bus station")),
               ("hotel", _l("Hotel")), ("hospital", _l("Hospital")), ("other", _l("Other"))]
PRIVACY_MODES = [("count", _l("Count only (no personal data)")),
                 ("contact", _l("Contact (name, phone)")),
                 ("full", _l("Full (name, phone, organisation, purpose, host)"))]
ROLES = [("admin", _l("Administrator")), ("manager", _l("Area manager")),
         ("reception", _l("Reception"))]
METHODS = [("staff", _l("Staff")), ("scanner", _l("ID scanner")), ("button", _l("Button")),
           ("self", _l("Self (kiosk QR)")), ("self_static", _l("Self (poster QR)"))]
DIRECTIONS = [("in", _l("In")), ("out", _l("Out"))]
HAS_APP = [("yes", _l("Has the app")), ("no", _l("Not yet")),
           ("installed_now", _l("Installed now")), ("unknown", _l("Unknown"))]
ANY = [("", _l("Any"))]


def _name_field(label: Any) -> StringField:
    return StringField(label, validators=[DataRequired(), Length(max=200)],
                       filters=[lambda v: v.strip() if isinstance(v, str) else v])


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class LoginForm(FlaskForm):
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1000)])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"),
                        validators=[DataRequired(), Length(min=MIN_LENGTH, max=1000)])
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[EqualTo("new", _l("The passwords differ."))])


class AreaForm(FlaskForm):
    name = _name_field(_l("Name"))
    kind = SelectField(_l("Kind"), choices=options(AREA_KINDS))
    parent = SelectField(_l("Province"), coerce=int, choices=[])

    def validate_parent(self, field: SelectField) -> None:
        if self.kind.data == "district" and not field.data:
            raise ValidationError(_l("A district belongs to a province."))


class VenueForm(FlaskForm):
    name = _name_field(_l("Name"))
    kind = SelectField(_l("Kind"), choices=options(VENUE_KINDS))
    area = SelectField(_l("Area"), coerce=int, choices=[])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=500)])
    timezone = SelectField(_l("Time zone"), choices=[])
    privacy_mode = SelectField(_l("Personal data recorded"), choices=options(PRIVACY_MODES))
    retention_days = IntegerField(
        _l("Days personal data is kept"),
        validators=[InputRequired(), NumberRange(min=1, max=MAX_RETENTION_DAYS)])
    consent_text_vi = TextAreaField(_l("Consent text (Vietnamese)"),
                                    validators=[Optional(), Length(max=2000)])
    consent_text_en = TextAreaField(_l("Consent text (English)"),
                                    validators=[Optional(), Length(max=2000)])


class KioskForm(FlaskForm):
    venue = SelectField(_l("Venue"), coerce=int, choices=[])
    name = StringField(_l("Name (e.g. Lobby TV)"), validators=[Optional(), Length(max=200)])


class FleetFilter(FlaskForm):
    class Meta:
        csrf = False

    area = SelectField(_l("Area"), coerce=int, choices=[], validators=[Optional()])
    venue = SelectField(_l("Venue"), coerce=int, choices=[], validators=[Optional()])
    state = SelectField(_l("State"), choices=[], validators=[Optional()])


class UploadForm(FlaskForm):
    file = FileField(_l("File (MP4 video, PNG or JPEG image)"), validators=[FileRequired()])
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)])


class UserForm(FlaskForm):
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=254), Regexp(
        r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$", message=_l("Not an email address."))],
        filters=[lambda v: v.strip().lower() if isinstance(v, str) else v])
    role = SelectField(_l("Role"), choices=options(ROLES))
    area = SelectField(_l("Area (managers)"), coerce=int, choices=[])
    venue = SelectField(_l("Venue (reception)"), coerce=int, choices=[])
    password = PasswordField(_l("Password"),
                             validators=[Optional(), Length(min=MIN_LENGTH, max=1000)])
    active = BooleanField(_l("Active"), default=True)

    def validate_area(self, field: SelectField) -> None:
        if self.role.data == "manager" and not field.data:
            raise ValidationError(_l("A manager needs an area."))

    def validate_venue(self, field: SelectField) -> None:
        if self.role.data == "reception" and not field.data:
            raise ValidationError(_l("A reception user needs a venue."))


class PlaylistForm(FlaskForm):
    name = _name_field(_l("Name"))
    area = SelectField(_l("Owner (who may edit it)"), coerce=int, choices=[])


class AssignForm(FlaskForm):
    target = SelectField(_l("Play it in"), choices=[])


class TimelineForm(FlaskForm):
    class Meta:
        csrf = False

    venue = SelectField(_l("Venue"), coerce=int, choices=[])
    day = DateField(_l("Day"), validators=[Optional()])


class CheckinFilter(FlaskForm):
    class Meta:
        csrf = False

    venue = SelectField(_l("Venue"), coerce=int, choices=[], validators=[Optional()])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])
    method = SelectField(_l("Method"), choices=options(ANY + METHODS), validators=[Optional()])
    direction = SelectField(_l("Direction"), choices=options(ANY + DIRECTIONS),
                            validators=[Optional()])
    has_app = SelectField(_l("Has the app"), choices=options(ANY + HAS_APP),
                          validators=[Optional()])
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=100_000)], default=1)


class RevealForm(FlaskForm):
    reason = TextAreaField(_l("Why do you need to see personal data?"),
                           validators=[DataRequired(), Length(min=5, max=500)])


class ExportForm(FlaskForm):
    format = SelectField(_l("Format"), choices=options(
        [("csv", "CSV"), ("xlsx", "Excel (XLSX)")]))
    reveal = BooleanField(_l("Include personal data (unmasked)"))
    reason = TextAreaField(_l("Reason (required with personal data)"),
                           validators=[Optional(), Length(max=500)])

    def validate(self, extra_validators: Any = None) -> bool:
        """A reason is required with personal data (checked here: ``Optional`` would stop
        a field validator on an empty reason)."""
        valid = super().validate(extra_validators)
        if self.reveal.data and len((self.reason.data or "").strip()) < 5:
            self.reason.errors = [*self.reason.errors,
                                  _l("Say why you need personal data (at least 5 characters).")]
            return False
        return valid
