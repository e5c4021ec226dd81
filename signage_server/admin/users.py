"""Staff accounts (administrators only): create, change role and scope, deactivate.

A new password or a deactivation ends the user's sessions at once (``security``). An
administrator cannot demote or deactivate their own account, so the console always keeps
someone who can manage it.
"""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_user
from sqlalchemy import select

from .. import audit, passwords
from ..extensions import db
from ..models import Area, User, Venue
from ..security import Staff, allow, scope, staff
from . import bp
from .choices import area_choices, venue_choices
from .forms import UserForm
from .paging import paginate


@bp.get("/users")
@allow("admin")
def users() -> str:
    page = paginate(select(User).order_by(User.email), per_page=100)
    areas = dict(db.session.execute(select(Area.id, Area.name)).all())
    venues = dict(db.session.execute(select(Venue.id, Venue.name)).all())
    return render_template("admin/users.html", page=page, areas=areas, venues=venues)


def _form(user: User | None) -> UserForm:
    form = UserForm(obj=user)
    if user is not None and not form.is_submitted():
        form.area.data, form.venue.data = user.area_id or 0, user.venue_id or 0
    form.area.choices = area_choices(scope(), none="—")
    form.venue.choices = venue_choices(scope(), none="—")
    return form


def _apply(form: UserForm, user: User) -> None:
    user.email, user.role = form.email.data, form.role.data
    user.area_id = form.area.data if user.role == "manager" else None
    user.venue_id = form.venue.data if user.role == "reception" else None
    user.active = bool(form.active.data)
    if form.password.data:
        user.password_hash = passwords.hash_password(form.password.data)


def _taken(email: str, user_id: int | None) -> bool:
    other = db.session.scalar(select(User.id).where(User.email == email))
    return other is not None and other != user_id


@bp.route("/users/new", methods=["GET", "POST"])
@allow("admin")
def user_new() -> Response | str:
    form = _form(None)
    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors.append(_("A new user needs a password."))
        elif _taken(form.email.data, None):
            form.email.errors.append(_("This email has an account already."))
        else:
            user = User(email=form.email.data, role=form.role.data, password_hash="")
            _apply(form, user)
            db.session.add(user)
            db.session.flush()
            audit.record("user.add", user_id=staff().id, target=f"user:{user.id}",
                         details={"role": user.role})
            db.session.commit()
            flash(_("User %(email)s is created.", email=user.email), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@allow("admin")
def user_edit(user_id: int) -> Response | str:
    user = db.session.get(User, user_id) or abort(404)
    form = _form(user)
    if form.validate_on_submit():
        myself = user.id == staff().id
        if myself and (form.role.data != "admin" or not form.active.data):
            form.role.errors.append(_("You cannot demote or deactivate your own account."))
        elif _taken(form.email.data, user.id):
            form.email.errors.append(_("This email has an account already."))
        else:
            _apply(form, user)
            audit.record("user.edit", user_id=staff().id, target=f"user:{user.id}",
                         details={"role": user.role, "active": user.active,
                                  "password": bool(form.password.data)})
            db.session.commit()
            if myself and form.password.data:
                login_user(Staff(user))  # keep this session; the others end
            flash(_("User %(email)s is saved.", email=user.email), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user)
