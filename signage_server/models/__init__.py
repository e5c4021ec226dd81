"""The data model of DESIGN.md section 6, one module per group of entities."""

from .content import Assignment, MediaAsset, Playlist, PlaylistItem
from .fleet import Kiosk, KioskHour, KioskScreenshot, ManifestGeneration
from .limits import JobLease, RateHit
from .people import AuditLog, LoginFailure, User
from .places import Area, Venue
from .records import CheckIn, PlayEvent, QrScan

__all__ = [
    "Area",
    "Assignment",
    "AuditLog",
    "CheckIn",
    "JobLease",
    "Kiosk",
    "KioskHour",
    "KioskScreenshot",
    "LoginFailure",
    "ManifestGeneration",
    "MediaAsset",
    "PlayEvent",
    "Playlist",
    "PlaylistItem",
    "QrScan",
    "RateHit",
    "User",
    "Venue",
]
