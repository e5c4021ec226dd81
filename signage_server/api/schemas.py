"""The wire format of kiosk API v1, declared once with pydantic.

These models validate what kiosks send and generate the JSON Schemas in the OpenAPI
document (``openapi.py``), so the contract and the checks cannot drift apart. Strings
are bounded and unknown fields are refused everywhere (``extra="forbid"``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
)

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
#: PostgreSQL text cannot hold NUL: strings that are stored in text columns refuse it here,
#: so the record is rejected with a reason instead of failing the whole INSERT.
NO_NUL = r"^[^\x00]*$"
ShortText = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]
Direction = Literal["in", "out"]
Method = Literal["staff", "scanner", "button", "self", "self_static"]
HasApp = Literal["yes", "no", "installed_now", "unknown"]
ItemKind = Literal["video", "image", "qr", "text", "default"]


def _rfc3339_text(value: object) -> object:
    """Times travel as RFC 3339 text; a bare number is a wrong type, not a Unix time."""
    if not isinstance(value, str):
        raise ValueError("expected an RFC 3339 date-time string")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_rfc3339_text)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, str_strip_whitespace=False)


class EnrollRequest(Strict):
    code: Annotated[str, StringConstraints(min_length=4, max_length=64)]
    name: ShortText | None = None
    version: Annotated[str, StringConstraints(max_length=32)] | None = None


class EnrollResponse(Strict):
    kiosk_id: int
    venue_id: int
    token: str
    server_public_key: str = Field(description="Curve25519 public key, base64; seal personal "
                                               "fields with a libsodium SealedBox.")
    presence_secret: str = Field(description="HMAC key for the presence token, base64.")
    server_time: datetime
    mqtt_url: str | None = Field(default=None, description="the broker with this kiosk's own "
                                 "account (mqtt://user:password@host:port); null without MQTT")


class CheckInRecord(Strict):
    client_uuid: uuid.UUID
    occurred_at: Timestamp
    clock_uncorrected: StrictBool = False
    direction: Direction
    method: Method
    has_app: HasApp = "unknown"
    consent_version: StrictInt | None = Field(default=None, ge=0, le=2**31 - 1)
    sealed: Annotated[str, StringConstraints(max_length=8192)] | None = Field(
        default=None,
        description="base64 SealedBox (server public key) of a JSON object with the personal "
                    "fields: name, phone, organisation, purpose, host, id_last4.")


class PersonalFields(Strict):
    """What a sealed box may hold; the venue's privacy mode then decides what is kept."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200,
                                           pattern=NO_NUL)] | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 .\-]{6,20}$")] | None = None
    organisation: ShortText | None = None
    purpose: ShortText | None = None
    host: ShortText | None = None
    id_last4: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,4}$")] | None = None


class PlayRecord(Strict):
    client_uuid: uuid.UUID
    item_id: StrictInt | None = Field(default=None, ge=0, le=2**31 - 1)
    sha256: Sha256 | None = None
    kind: ItemKind
    started_at: Timestamp
    duration_ms: StrictInt = Field(ge=0, le=24 * 3600 * 1000)
    manifest_version: Annotated[str, StringConstraints(max_length=32,
                                                       pattern=NO_NUL)] | None = None
    clock_uncorrected: StrictBool = False


class Batch(BaseModel):
    """Records are validated one by one, so one bad record never fails its neighbours."""

    model_config = ConfigDict(extra="forbid")
    venue_id: StrictInt | None = Field(default=None, description="if given, must be the "
                                       "kiosk's own venue (else 403)")
    #: No ``max_length`` here: the limit is the ``MAX_BATCH_RECORDS`` setting, checked (413)
    #: before validation, and written into the served OpenAPI document as ``maxItems``.
    records: list[object] = Field(description="at most MAX_BATCH_RECORDS (default 1000) "
                                              "records; more is a 413")


class CheckInBatch(Batch):
    """A batch whose every record is a valid check-in: the common case, validated in one
    pass straight from the request body (``api.views._valid_batch``). Any fault sends the
    batch down the record-by-record path of ``Batch``, which says what is wrong where."""

    records: list[CheckInRecord]  # type: ignore[assignment]


class PlayBatch(Batch):
    """As ``CheckInBatch``, for proof-of-play records."""

    records: list[PlayRecord]  # type: ignore[assignment]


class RecordResult(Strict):
    index: int
    client_uuid: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None = None
    flagged: Literal["future", "past"] | None = None


class BatchResponse(Strict):
    accepted: int
    duplicates: int
    rejected: int
    results: list[RecordResult]
    server_time: datetime


class CurrentItem(Strict):
    id: StrictInt | None = Field(default=None, ge=0, le=2**31 - 1)
    kind: ItemKind
    sha256: Sha256 | None = None


class Unsynced(Strict):
    checkins: StrictInt = Field(default=0, ge=0, le=2**31 - 1)
    plays: StrictInt = Field(default=0, ge=0, le=2**31 - 1)


class HeartbeatRequest(Strict):
    version: Annotated[str, StringConstraints(max_length=32)]
    uptime_s: StrictInt | StrictFloat = Field(ge=0, le=10**9)
    manifest_version: Annotated[str, StringConstraints(max_length=32)] | None = None
    current_item: CurrentItem | None = None
    disk_free_bytes: StrictInt | None = Field(default=None, ge=0, le=2**62)
    temperature_c: StrictInt | StrictFloat | None = Field(default=None, ge=-100, le=200)
    unsynced: Unsynced = Field(default_factory=Unsynced)
    clock_offset_s: StrictInt | StrictFloat | None = Field(default=None, ge=-10**9, le=10**9)
    late_frames: StrictInt | None = Field(default=None, ge=0, le=2**62)
    footfall: StrictInt | None = Field(default=None, ge=0, le=10**6,
                                       description="motion-sensor counts since the previous "
                                                   "acknowledged heartbeat")
    last_error: Annotated[str, StringConstraints(max_length=1000)] | None = None
    screenshot_png: str | None = Field(default=None, description="base64 PNG, at most 512 KB "
                                                                 "decoded")


class HeartbeatResponse(Strict):
    server_time: datetime
    manifest_version: str


class ErrorBody(Strict):
    code: str
    message: str


class ErrorResponse(Strict):
    error: ErrorBody


class Schedule(Strict):
    days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        description="ISO weekdays, 1 = Monday ... 7 = Sunday")
    windows: list[list[str]] = Field(
        description='[["08:00", "12:00"], ...] in the venue\'s timezone; empty = all day')
    valid_from: str | None = Field(description="first day (YYYY-MM-DD), venue time")
    valid_until: str | None = Field(description="last day (YYYY-MM-DD), venue time")


class ManifestItem(Strict):
    id: int
    kind: Literal["video", "image", "qr", "text"]
    sha256: Sha256 | None
    url: str | None
    mime: str | None
    bytes: int | None
    duration_s: float = Field(description="seconds on screen; for a video, the clip's length "
                                          "unless the item sets one")
    width: int | None
    height: int | None
    schedule: Schedule
    data: dict[str, object] = Field(description="qr: url, caption_vi, caption_en; text: "
                                                "title_vi, lines_vi, title_en, lines_en")


class ManifestPlaylist(Strict):
    id: int
    name: str
    items: list[ManifestItem]


class ManifestVenue(Strict):
    id: int
    name: str
    kind: str
    timezone: str


class ManifestKiosk(Strict):
    id: int
    name: str


class ManifestQr(Strict):
    app_name: str
    android_url: str
    ios_url: str
    smart_url: str = Field(description="install link that counts the scan; the kiosk may add "
                                       "?i=<item id> for the item on screen")


class ManifestCheckin(Strict):
    privacy_mode: Literal["count", "contact", "full"]
    fields: list[str]
    retention_days: int
    consent: dict[str, str]
    consent_version: int
    self_checkin_url: str = Field(description="prefix of the presence QR: append the token")


class ManifestSync(Strict):
    poll_seconds: int
    heartbeat_seconds: int
    mqtt_topics: list[str]


class Manifest(Strict):
    manifest_version: str
    kiosk: ManifestKiosk
    venue: ManifestVenue
    layout: dict[str, object]
    playlist: ManifestPlaylist | None = Field(
        description="null: nothing assigned, the kiosk plays its default content")
    qr: ManifestQr
    checkin: ManifestCheckin
    sync: ManifestSync
