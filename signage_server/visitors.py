"""One visitor's check-in as a person types it: on their phone (``public.visit``) or at the
reception desk (``admin.reception``). Both pages use ``VisitorForm`` and ``record``, so the
same rules hold for every check-in typed into the server.

- Only the venue's privacy mode's fields exist on the form (``for_venue`` removes the
  others): a "count" venue asks for no personal data at all.
- Text is stripped and length-checked; control characters (a NUL, a scanner's stray escape
  codes) are refused, not silently dropped, so what is stored is what the person saw.
  ``<script>`` or ``=HYPERLINK(...)`` are just text: Jinja escapes them on every page and the
  exports escape formula starts (``personal``).
- ``record`` is idempotent on the client UUID, so a double submit makes one check-in.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from uuid6 import uuid7
from wtforms import BooleanField, Field, Form, RadioField, SelectChoice, StringField
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from .extensions import db
from .models import CheckIn, Venue
from .models.places import PRIVACY_FIELDS

MAX_TEXT = 200
MAX_PHONE = 32
PHONE = re.compile(r"^\+?[0-9 .()\-]+$")
ALL_FIELDS = ("name", "phone", "organisation", "purpose", "host")


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _printable(_form: Form, field: Field) -> None:
    """Refuse control characters (NUL, escape codes from a misconfigured scanner)."""
    if any(unicodedata.category(ch) == "Cc" for ch in field.data or ""):
        raise ValidationError(_l("Remove the invisible control characters from this field."))


def _phone(_form: Form, field: Field) -> None:
    value = field.data or ""
    digits = sum(ch.isdigit() for ch in value)
    if not PHONE.match(value) or not 8 <= digits <= 15:
        raise ValidationError(_l("Enter a phone number of 8 to 15 digits, like 0901 234 567."))


FILL_IN = _l("Please fill in this field.")
ONE_OF = _l("Choose one of the answers shown.")


def _choice(label: Any, choices: list[SelectChoice], default: str | None = None) -> RadioField:
    """Radio buttons whose errors are in the page's language (WTForms has no Vietnamese)."""
    return RadioField(label, default=default, choices=choices, validate_choice=False,
                      validators=[InputRequired(message=_l("Choose one answer.")),
                                  AnyOf([c.value for c in choices], message=ONE_OF)])


def _text(label: Any, required: bool) -> StringField:
    first = DataRequired(message=FILL_IN) if required else Optional()
    return StringField(label, filters=[_strip], validators=[
        first, Length(max=MAX_TEXT, message=_l("At most %(max)d characters.")), _printable])


class VisitorForm(FlaskForm):
    """Everything a check-in may ask; ``for_venue`` keeps what the venue's mode allows."""

    direction = _choice(_l("Arriving or leaving?"), [
        SelectChoice("in", _l("Arriving")), SelectChoice("out", _l("Leaving"))], default="in")
    name = _text(_l("Full name"), required=True)
    phone = StringField(_l("Phone number"), filters=[_strip], validators=[
        DataRequired(message=FILL_IN),
        Length(max=MAX_PHONE, message=_l("At most %(max)d characters.")), _printable, _phone])
    organisation = _text(_l("Organisation"), required=False)
    purpose = _text(_l("Purpose of the visit"), required=False)
    host = _text(_l("Person you are visiting"), required=False)
    has_app = _choice(_l("Do you have the app?"), [
        SelectChoice("yes", _l("Yes, I have it")), SelectChoice("no", _l("Not yet")),
        SelectChoice("installed_now", _l("I installed it just now"))])
    consent = BooleanField(_l("I agree to my details being recorded as described above."),
                           validators=[DataRequired(message=_l(
                               "Please agree to the recording of your details, or ask the "
                               "reception desk."))])


def for_venue(form: VisitorForm, venue: Venue, consent: bool = True) -> VisitorForm:
    """Drop the fields the venue's privacy mode does not allow (and the consent box when
    nothing personal is asked, or when staff record on the visitor's word)."""
    allowed = set(PRIVACY_FIELDS[venue.privacy_mode])
    for name in ALL_FIELDS:
        if name not in allowed:
            delattr(form, name)
    if not allowed or not consent:
        delattr(form, "consent")
    return form


def personal_values(form: VisitorForm) -> dict[str, str | None]:
    """The personal fields the form kept, empty ones as None."""
    return {name: (getattr(form, name).data or None) for name in ALL_FIELDS
            if has(form, name)}


def has(form: VisitorForm, name: str) -> bool:
    """Whether ``for_venue`` kept the field (WTForms leaves a removed one as None)."""
    return getattr(form, name, None) is not None


def new_client_uuid() -> uuid.UUID:
    """A time-ordered UUID v7 (RFC 9562), like the kiosks make, so the unique index on
    ``client_uuid`` stays append-mostly."""
    return uuid.UUID(str(uuid7()))


@dataclass(frozen=True)
class Entry:
    """What the person asked to record, before it becomes a ``CheckIn``."""

    venue: Venue
    client_uuid: uuid.UUID
    direction: str
    method: str
    has_app: str
    personal: dict[str, str | None]
    kiosk_id: int | None = None
    arrival_id: int | None = None


def record(entry: Entry, now: datetime) -> CheckIn:
    """Store the check-in once: a second call with the same client UUID returns the first."""
    existing = by_uuid(entry.client_uuid)
    if existing is not None:
        return existing
    row = CheckIn(client_uuid=entry.client_uuid, venue_id=entry.venue.id,
                  kiosk_id=entry.kiosk_id, occurred_at=now, received_at=now,
                  direction=entry.direction, method=entry.method, has_app=entry.has_app,
                  consent_version=entry.venue.consent_version, arrival_id=entry.arrival_id,
                  **entry.personal)
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # the same submit, twice at once: the other request stored it
        db.session.rollback()
        found = by_uuid(entry.client_uuid)
        if found is None:
            raise
        return found
    return row


def by_uuid(client_uuid: uuid.UUID) -> CheckIn | None:
    return db.session.scalar(select(CheckIn).where(CheckIn.client_uuid == client_uuid))


def local_day(venue: Venue, moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(venue.timezone)).date()


def deletion_date(venue: Venue, moment: datetime) -> date:
    """The day, in the venue's timezone, on which personal data recorded at ``moment`` is
    deleted: ``moment`` plus the venue's retention (``retention.purge`` runs daily)."""
    return local_day(venue, moment + timedelta(days=venue.retention_days))
