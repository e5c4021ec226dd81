"""The routes of kiosk API v1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import Response, current_app, g, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import BadRequest as WerkzeugBadRequest

from .. import fleet, heartbeats, ingest, manifests, mqtt_acl
from ..errors import BadRequest, Forbidden, PayloadTooLarge, Unauthorized
from ..extensions import db
from ..keys import public_key_b64
from ..models import Venue
from . import bp
from .schemas import Batch, CheckInBatch, EnrollRequest, HeartbeatRequest, PlayBatch


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M]) -> M:
    """The body as ``model``, or a 400 saying what is wrong with it."""
    try:
        raw = request.get_json(force=False, silent=False)
    except WerkzeugBadRequest as exc:
        raise BadRequest("the body is not valid JSON", "invalid_json") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadRequest(f"{where}: {first['msg']}"[:500], "invalid_body") from exc


def bearer_hash() -> str:
    """The hash of the request's bearer token, the key every kiosk look-up uses."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send Authorization: Bearer <kiosk token>")
    return fleet.digest(token.strip())


def authenticated(cached_if: Callable[[manifests.PollState], bool] | None = None
                  ) -> manifests.PollState:
    """The kiosk, from its bearer token, in one indexed query. Only the manifest poll passes
    ``cached_if``: a state the process keeps (PostgreSQL, see poll_cache) that passes it
    comes without the query; anything else reads the database."""
    state = manifests.poll_state(bearer_hash(), cached_if)
    if state is None:
        raise Unauthorized("unknown or revoked kiosk token; enroll the kiosk again",
                           "invalid_token")
    g.kiosk_id = state.kiosk_id
    return state


def unchanged(state: manifests.PollState) -> bool:
    """Whether the kiosk already has the current manifest: a 304."""
    if not state.fresh:
        return False
    version = state.cached_version or ""
    sent = request.environ.get("HTTP_IF_NONE_MATCH")
    if sent is None:
        return False
    # What a kiosk sends back on every poll: the ETag as served, or as nginx weakened it
    # (W/"...") when it gzipped the manifest. Compared as text first, because parsing the
    # header (werkzeug's ETags) was 10 us of a poll's ~30 us of own work; anything else is
    # parsed and compared weakly, as RFC 9110 requires for If-None-Match.
    if sent in (f'"{version}"', f'W/"{version}"'):
        return True
    return request.if_none_match.contains_weak(version)


@bp.post("/enroll")
def enroll() -> Response:
    body = parse(EnrollRequest)
    result = fleet.enroll(body.code, body.name, now())
    keys = current_app.extensions["signage_keys"]
    return jsonify({
        "kiosk_id": result.kiosk_id, "venue_id": result.venue_id, "token": result.token,
        "server_public_key": public_key_b64(keys), "presence_secret": fleet.b64(
            result.presence_secret), "server_time": iso(now()),
        "mqtt_url": mqtt_acl.kiosk_url(current_app.config, result.kiosk_id),
    })


@bp.get("/kiosk/manifest")
def manifest() -> Response:
    state = authenticated(cached_if=unchanged)  # only a 304 may come from the cache
    if unchanged(state):
        response = Response(status=304)
        response.set_etag(state.cached_version or "")
        return response
    body = manifests.refresh(state)
    response = jsonify(body)
    response.set_etag(body["manifest_version"])
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


def _context(state: manifests.PollState, batch: Batch) -> ingest.Context:
    if batch.venue_id is not None and batch.venue_id != state.venue_id:
        raise Forbidden("this kiosk may only write records for its own venue", "wrong_venue")
    privacy = db.session.get(Venue, state.venue_id).privacy_mode  # type: ignore[union-attr]
    cfg = current_app.config
    return ingest.Context(
        kiosk_id=state.kiosk_id, venue_id=state.venue_id, privacy_mode=privacy, now=now(),
        future_tolerance=timedelta(seconds=cfg["FUTURE_TOLERANCE_SECONDS"]),
        sealing_key=current_app.extensions["signage_keys"])


def _batch_response(outcome: ingest.Outcome, moment: datetime) -> Response:
    body: dict[str, Any] = {
        "accepted": outcome.count("accepted"), "duplicates": outcome.count("duplicate"),
        "rejected": outcome.count("rejected"), "results": outcome.results,
        "server_time": iso(moment),
    }
    return jsonify(body)


def _batch(valid: type[Batch]) -> Batch:
    """The batch. First in one pass from the body's bytes as ``valid`` (every record valid:
    pydantic parses and checks them together, in about half the time of ``json.loads`` and
    a check per record); failing that, as ``Batch``, whose records ``ingest`` then checks
    one by one, each rejected with its own reason."""
    limit = current_app.config["MAX_BATCH_RECORDS"]
    try:
        batch: Batch = valid.model_validate_json(request.get_data(cache=True))
    except ValidationError:
        raw = request.get_json(silent=True)
        if isinstance(raw, dict) and isinstance(raw.get("records"), list) and \
                len(raw["records"]) > limit:
            raise PayloadTooLarge(f"at most {limit} records per batch; split it",
                                  "batch_too_large") from None
        return parse(Batch)
    if len(batch.records) > limit:
        raise PayloadTooLarge(f"at most {limit} records per batch; split it",
                              "batch_too_large")
    return batch


@bp.post("/checkins")
def checkins() -> Response:
    state = authenticated()
    batch = _batch(CheckInBatch)
    ctx = _context(state, batch)
    return _batch_response(ingest.checkins(batch.records, ctx), ctx.now)


@bp.post("/plays")
def plays() -> Response:
    state = authenticated()
    batch = _batch(PlayBatch)
    ctx = _context(state, batch)
    return _batch_response(ingest.plays(batch.records, ctx), ctx.now)


@bp.post("/heartbeat")
def heartbeat() -> Response:
    state = authenticated()
    body = parse(HeartbeatRequest)
    moment = now()
    heartbeats.store(state.kiosk_id, body, moment,
                     max_png=current_app.config["MAX_SCREENSHOT_BYTES"])
    version = manifests.current_version(state)
    return jsonify({"server_time": iso(moment), "manifest_version": version})
