"""Admin identity: password hashing, API tokens, and the guard for ``/admin/api/``.

Passwords use scrypt (Werkzeug). API tokens are random, shown once, stored as SHA-256 and
read-only: they may only ``GET``/``HEAD``; anything that changes state needs an admin session.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask_login import current_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from moviepulse.extensions import db
from moviepulse.models.base import utcnow
from moviepulse.models.users import AdminUser, ApiToken

TOKEN_PREFIX = "mp_"
MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(user: AdminUser | None, password: str) -> bool:
    """Constant work whether or not the user exists (no user-enumeration by timing)."""
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(user.password_hash, password)


_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


def password_problems(password: str, email: str = "") -> list[str]:
    """The password policy: length, not the e-mail, not one repeated character."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"at least {MIN_PASSWORD_LENGTH} characters")
    if email and password.lower() == email.lower():
        problems.append("must differ from the e-mail address")
    if password and len(set(password)) < 4:
        problems.append("at least 4 different characters")
    return problems


def create_admin(email: str, password: str) -> AdminUser:
    email = email.strip().lower()
    problems = password_problems(password, email)
    if problems:
        raise ValueError("password rejected: " + "; ".join(problems))
    user = db.session.scalar(select(AdminUser).where(AdminUser.email == email))
    if user is None:
        user = AdminUser(email=email, password_hash=hash_password(password))
        db.session.add(user)
    else:
        user.password_hash = hash_password(password)
    db.session.commit()
    return user


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(name: str, user: AdminUser | None = None) -> str:
    """Create a read-only API token; returns the plain token (shown once)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(name=name, token_hash=hash_token(token), prefix=token[:10],
                            user_id=user.id if user else None))
    db.session.commit()
    return token


def token_from_request() -> ApiToken | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    digest = hash_token(header[7:].strip())
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None)))
    return token


def unauthorized(reason: str = "authentication required") -> Response:
    response = jsonify({"error": "unauthorized", "reason": reason})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="moviepulse-admin"'
    return response


def require_admin_api() -> Response | None:
    """``before_request`` guard for admin API blueprints: an admin session or a bearer token."""
    if current_user.is_authenticated:
        g.admin_via = "session"
        return None
    token = token_from_request()
    if token is None:
        return unauthorized()
    if request.method not in ("GET", "HEAD"):
        response = jsonify({"error": "forbidden", "reason": "API tokens are read-only; use an admin session"})
        response.status_code = 403
        return response
    g.admin_via = "token"
    g.api_token_id = token.id
    if token.last_used_at is None or (utcnow() - token.last_used_at).total_seconds() > 60:
        token.last_used_at = utcnow()
        db.session.commit()
    return None


def admin_api_blueprint(name: str, import_name: str, url_prefix: str = "", **kwargs: Any) -> Blueprint:
    """A blueprint mounted under ``/admin/api<url_prefix>`` that only admins or tokens reach."""
    bp = Blueprint(name, import_name, url_prefix="/admin/api" + url_prefix, **kwargs)
    bp.before_request(require_admin_api)
    return bp
