"""Everything the kiosk's screen loop reacts to, as frozen values.

Producers (the sync thread, keyboard, timers, the video decoder) only ever put one of
these on the player's ``queue.Queue``; the pure ``kiosk.state.step`` decides what it means.
Keeping them as plain frozen dataclasses lets tests build any sequence of events by hand.

``ManifestReady`` and ``SyncStatus`` are the contract with the sync side: it posts
``ManifestReady`` only once every media file of the manifest is cached and verified, and
``SyncStatus`` whenever its view of the network or the clock changes.

``PlayRecord`` travels the other way: the player hands one to its ``on_play`` callback each
time an item has finished showing (proof of play).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiosk.checkin import Confirmation


@dataclass(frozen=True, eq=False)
class ManifestReady:
    """A manifest whose media are all cached: it may take effect at the next item boundary.

    ``resolve`` maps a sha256 to the verified cached file, or None when it is missing (the
    player then skips that item rather than show a black screen).
    """

    manifest: dict[str, Any]
    resolve: Callable[[str], Path | None]


@dataclass(frozen=True)
class SyncStatus:
    """The sync side's view of the server: shown discreetly in the bar, stored in status."""

    online: bool
    clock_offset_s: float | None
    last_error: str | None


@dataclass(frozen=True)
class Tick:
    """Time has passed: the loop steps with one every turn, so items end on time."""


@dataclass(frozen=True)
class KeyPressed:
    """A key on a keyboard (or a USB scanner typing like one); ``key`` is pygame's key name."""

    key: str
    #: When the loop last looked at the keyboard before it saw this key (monotonic seconds):
    #: the key came some time after that. None: when it was seen.
    since: float | None = None


@dataclass(frozen=True)
class Quit:
    """Stop the loop (window closed, Escape, or the service is stopping)."""


@dataclass(frozen=True)
class MediaEnded:
    """A video ran out of frames before its planned end: move on at once.

    ``serial`` names the showing it belongs to, so a late message about an item that is
    already gone cannot cut the next one short.
    """

    serial: int


@dataclass(frozen=True)
class MediaFailed:
    """The file of a showing could not be opened or decoded: skip it, keep the screen alive."""

    serial: int
    reason: str


@dataclass(frozen=True)
class ButtonPressed:
    """A hardware button (gpiozero, ``kiosk.hardware``): ``button`` is ``has_app`` ("Đã có
    Bluezone"), ``not_yet`` ("Chưa có") or ``direction`` (the in/out toggle)."""

    button: str


@dataclass(frozen=True)
class Motion:
    """The PIR sensor saw someone: wake the screen (footfall is counted by the hardware side)."""


@dataclass(frozen=True)
class TextTyped:
    """Text from the keyboard (pygame TEXTINPUT): Unicode, so an input method or a keyboard
    layout can type Vietnamese, and what a USB scanner types. ``kiosk.checkin_flow`` tells a
    scanner's burst from a person's typing."""

    text: str
    #: As ``KeyPressed.since``.
    since: float | None = None


@dataclass(frozen=True)
class Tapped:
    """A tap or click on something the screen drew as a target (``kiosk.display`` names it:
    ``open_form``, ``field:name``, ``key:a``, ``confirm``, ...)."""

    target: str


@dataclass(frozen=True)
class CheckinRecorded:
    """The player recorded a check-in (durable commit done): confirm it on screen."""

    confirmation: Confirmation


@dataclass(frozen=True)
class CheckinRejected:
    """A check-in was not recorded: why, for the screen."""

    vi: str
    en: str


Event = (ManifestReady | SyncStatus | Tick | KeyPressed | Quit | MediaEnded | MediaFailed
         | ButtonPressed | Motion | TextTyped | Tapped | CheckinRecorded | CheckinRejected)


@dataclass(frozen=True)
class PlayRecord:
    """One item that was on screen, for the proof-of-play journal and ``POST /api/v1/plays``.

    ``kind`` is the wire kind: ``video``, ``image``, ``qr``, ``text``, or ``default`` for the
    built-in content (whose ``item_id`` is then None: its ids are local, negative and
    meaningless to the server). ``started_at`` is unix seconds on the device clock; the sync
    side applies the clock offset it learned.
    """

    client_uuid: str
    item_id: int | None
    sha256: str | None
    kind: str
    started_at: float
    duration_ms: int
    manifest_version: str | None
