"""Admin login and logout, and the guard in front of everything under ``/admin/``.

* ``GET/POST /admin/login``: a Flask-WTF form (CSRF token required), passwords checked with
  ``moviepulse.core.auth.verify_password`` (same work for unknown users), failures recorded
  and throttled (``throttle.py``), one generic answer whether or not the account exists,
  then a redirect to ``next`` only when it is a local path (``redirects.safe_next``).
* ``POST /admin/logout``: CSRF-protected too (a GET never changes state).
* ``guard_admin``: a ``before_request`` for the whole app. Under ``/admin/`` (except the two
  views above and the ``/admin/api/`` blueprints, which have their own guard) an anonymous
  page ``GET`` is redirected to the login page with ``next``; every other request — Dash
  callbacks, ``_dash-*`` JSON, component suites, assets — gets ``401`` JSON. A logged-in
  callback ``POST`` must be JSON (a cross-site ``text/plain`` form post is refused).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, HiddenField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from moviepulse.core.auth import unauthorized, verify_password
from moviepulse.dash_app import theme
from moviepulse.dash_app.redirects import DEFAULT_NEXT, safe_next
from moviepulse.dash_app.throttle import clear_failures, is_throttled, normalise_email, record_failure
from moviepulse.extensions import db
from moviepulse.models.base import utcnow
from moviepulse.models.users import AdminUser

ADMIN_PREFIX = "/admin/"
LOGIN_PATH = "/admin/login"
GENERIC_FAILURE = "Invalid e-mail or password."
THROTTLED = "Too many failed attempts. Try again later."

bp = Blueprint("admin_auth", __name__, template_folder="templates")


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()
    submit = SubmitField("Sign in")


class LogoutForm(FlaskForm):
    submit = SubmitField("Sign out")


def client_addr() -> str:
    return (request.remote_addr or "unknown")[:64]


def _page(form: LoginForm, error: str | None, status: int) -> tuple[str, int, dict[str, str]]:
    html = render_template("moviepulse_admin/login.html", form=form, error=error, css=theme.stylesheet(),
                           site_name=current_app.config.get("SITE_NAME", "MoviePulse"))
    return html, status, {"Cache-Control": "no-store"}


@bp.route(LOGIN_PATH, methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(safe_next(request.args.get("next")))
        form.next.data = safe_next(request.args.get("next"))
        return _page(form, None, 200)

    if not form.validate_on_submit():
        if form.csrf_token.errors if hasattr(form, "csrf_token") else False:
            return _page(form, "The form expired; please try again.", 400)
        return _page(form, GENERIC_FAILURE, 400)

    email = normalise_email(form.email.data)
    target = safe_next(form.next.data)
    form.next.data = target
    if is_throttled(db.session, current_app.config, email, client_addr()):
        # No password check while throttled: a correct guess must not be confirmed.
        return _page(form, THROTTLED, 429)
    user = db.session.scalar(select(AdminUser).where(AdminUser.email == email))
    if not verify_password(user, form.password.data or "") or user is None or not user.is_active:
        record_failure(db.session, email, client_addr())
        return _page(form, GENERIC_FAILURE, 401)
    clear_failures(db.session, current_app.config, email)
    user.last_login_at = utcnow()
    db.session.commit()
    login_user(user)
    return redirect(target)


@bp.post("/admin/logout")
def logout() -> Any:
    form = LogoutForm()
    if not form.validate_on_submit():
        return Response("CSRF token missing or invalid", status=400, mimetype="text/plain")
    logout_user()
    return redirect(url_for("admin_auth.login"))


@bp.get("/admin/theme.css")
def theme_css() -> Response:
    """The dashboard stylesheet, generated from ``theme.py`` (guarded like every admin route)."""
    return Response(theme.stylesheet(), mimetype="text/css", headers={"Cache-Control": "private, max-age=300"})


PUBLIC_ENDPOINTS = frozenset({"admin_auth.login", "admin_auth.logout"})


def is_page_request() -> bool:
    """An HTML page of the Dash app (not a callback, a ``_dash-*`` JSON route or an asset)."""
    if request.method not in ("GET", "HEAD"):
        return False
    tail = request.path[len(ADMIN_PREFIX):]
    return not (tail.startswith("_") or tail.startswith("assets/") or tail.endswith(".css")
                or tail.endswith(".js") or tail.endswith(".ico"))


def guard_admin() -> Response | None:
    """``before_request``: every ``/admin/`` route except login needs a logged-in admin."""
    path = request.path
    if not (path.startswith(ADMIN_PREFIX) or path == "/admin"):
        return None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if path.startswith("/admin/api/") and request.blueprint and request.endpoint \
            and not request.endpoint.startswith("/"):
        return None  # admin API blueprints: session or bearer token, checked by their own guard
    if not current_user.is_authenticated:
        if is_page_request():
            nxt = request.full_path if request.query_string else request.path
            return redirect(url_for("admin_auth.login", next=nxt))
        return unauthorized("admin login required")
    if request.method == "POST" and path.startswith("/admin/_dash-") and not request.is_json:
        response = Response('{"error": "unsupported media type"}', status=415, mimetype="application/json")
        return response
    return None


def no_store(response: Response) -> Response:
    """``after_request``: admin pages, callbacks and login answers are never cached (assets may be)."""
    path = request.path
    if path.startswith(ADMIN_PREFIX) and not path.startswith(("/admin/assets/", "/admin/_dash-component-suites/")) \
            and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def logged_in_email() -> str:
    return getattr(current_user, "email", "") if current_user.is_authenticated else ""


__all__ = ["bp", "guard_admin", "LoginForm", "LogoutForm", "safe_next", "DEFAULT_NEXT"]
