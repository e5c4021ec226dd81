"""Signing in and out, the language switch, and changing one's own password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from .. import audit, passwords
from ..extensions import db
from ..models import User
from ..security import LANGUAGES, ROLES, Staff, allow, public, staff
from . import bp, throttle
from .choices import now
from .forms import ActionForm, LoginForm, PasswordForm

#: Verified when the account does not exist, so a wrong email costs as long as a wrong
#: password and the timing does not tell which accounts exist.
_DUMMY_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$c2lnbmFnZWR1bW15c2FsdA"
               "$3SLxR4raJRmICVRbsBUA9T2dPtxr5SDOQFeocWk5fBI")


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute URL (no open redirect)."""
    if not target:
        return url_for("admin.overview")
    parts = urlsplit(target)
    odd = "\\" in target or any(ord(ch) < 32 for ch in target)  # browsers read \ as /
    if odd or parts.scheme or parts.netloc or not target.startswith("/") or \
            target.startswith("//"):
        return url_for("admin.overview")
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | str | tuple[str, int]:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("admin/login.html", form=form)
    email = form.email.data.strip().lower()
    client = request.remote_addr or "unknown"
    moment, limits = now(), throttle.Limits.from_config()
    if throttle.locked(email, client, moment, limits):
        minutes = int(limits.window.total_seconds() // 60)
        flash(_("Too many failed sign-ins. Wait %(minutes)d minutes and try again.",
                minutes=minutes), "error")
        return render_template("admin/login.html", form=form), 429
    user = db.session.scalars(select(User).where(User.email == email)).first()
    valid = passwords.verify_password(user.password_hash if user else _DUMMY_HASH,
                                      form.password.data)
    if user is None or not valid or not user.active:
        throttle.failed(email, client, moment, limits)
        flash(_("Wrong email or password."), "error")
        return render_template("admin/login.html", form=form), 200
    throttle.succeeded(email)
    audit.record("login", user_id=user.id, now=moment)
    db.session.commit()
    session.clear()  # a fresh session: nothing from before sign-in carries over
    session.permanent = True
    login_user(Staff(user))
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
@allow(*ROLES)
def logout() -> Response:
    ActionForm()  # the CSRF check runs for every POST; nothing else to read
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You are signed out."), "info")
    return redirect(url_for("admin.login"))


@bp.get("/lang/<code>")
@public
def language(code: str) -> Response:
    """Switch the interface language (kept in the session cookie)."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))


@bp.route("/account/password", methods=["GET", "POST"])
@allow(*ROLES)
def password() -> Response | str:
    form = PasswordForm()
    user = staff().user
    if form.validate_on_submit():
        if not passwords.verify_password(user.password_hash, form.current.data):
            form.current.errors.append(_("This is not your current password."))
        else:
            user.password_hash = passwords.hash_password(form.new.data)
            audit.record("user.password", user_id=user.id, target=f"user:{user.id}")
            db.session.commit()
            login_user(Staff(user))  # the old fingerprint ends every other session
            flash(_("Your password is changed. Other sessions are signed out."), "success")
            return redirect(url_for("admin.overview"))
    return render_template("admin/password.html", form=form)

