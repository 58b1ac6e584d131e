"""Admin identity: password hashing, API tokens, and the guard for ``/admin/api/``.

Passwords: Argon2id and the password policy live in ``moviepulse.core.passwords`` (re-exported
here); legacy Werkzeug scrypt/pbkdf2 hashes still verify and are upgraded at the next login. API
tokens are random, shown once, stored as SHA-256 and read-only: they may only ``GET``/``HEAD``;
anything that changes state needs an admin session.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask_login import current_user
from sqlalchemy import select

from moviepulse.core.passwords import (
    DUMMY_HASH,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    check_password,
    hash_password,
    needs_rehash,
    password_problems,
)
from moviepulse.extensions import db
from moviepulse.models.base import utcnow
from moviepulse.models.users import AdminUser, ApiToken

__all__ = ["DUMMY_HASH", "MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH", "TOKEN_PREFIX", "admin_api_blueprint",
           "create_admin", "create_token", "hash_password", "hash_token", "needs_rehash", "password_problems",
           "require_admin_api", "token_from_request", "unauthorized", "verify_password"]

TOKEN_PREFIX = "mp_"


def verify_password(user: AdminUser | None, password: str) -> bool:
    """Check ``password``; the same Argon2id work whether or not the user exists (no
    user-enumeration by timing: unknown users are checked against ``DUMMY_HASH``).

    On success with a legacy (Werkzeug scrypt/pbkdf2) or under-strength hash, the password is
    rehashed into ``user.password_hash``; the caller's commit stores it (the login view commits
    on every successful login).
    """
    if user is None:
        check_password(DUMMY_HASH, password)
        return False
    if not check_password(user.password_hash, password):
        return False
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return True


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
