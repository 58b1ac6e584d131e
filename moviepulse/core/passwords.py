"""Password hashing and the password policy (used by ``moviepulse.core.auth``).

Hashing: Argon2id with explicit parameters (OWASP's minimum: m = 19 MiB, t = 2, p = 1), never the
library's defaults. Verification still accepts the Werkzeug ``scrypt:…``/``pbkdf2:…`` hashes stored
before, and :func:`needs_rehash` reads the stored string's own parameters, so a login with an old
or under-strength hash can store a new one.

Policy: at least ``MIN_PASSWORD_LENGTH`` characters (code points, any Unicode, spaces kept), at most
``MAX_PASSWORD_LENGTH`` (what the login form accepts), not one of the 3,000 most common passwords
(``data/common-passwords.txt``, vendored), not the e-mail, not one repeated character. No
composition rules.
"""

from __future__ import annotations

import base64
import functools
import secrets
from pathlib import Path

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # = the login form's ``Length(max=...)``: a password set can be typed there

# Argon2id, RFC 9106 / OWASP Password Storage Cheat Sheet minimum: 19 MiB, 2 passes, 1 lane.
ARGON2_TYPE = Type.ID
ARGON2_VERSION = 0x13  # 19, the current (and only maintained) Argon2 version
ARGON2_MEMORY_KIB = 19 * 1024  # 19456 KiB
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
ARGON2_HASH_LEN = 32
ARGON2_SALT_LEN = 16
ARGON2_PREFIX = "$argon2id$"

_HASHER = PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB,
                         parallelism=ARGON2_PARALLELISM, hash_len=ARGON2_HASH_LEN,
                         salt_len=ARGON2_SALT_LEN, type=ARGON2_TYPE)

COMMON_PASSWORDS_PATH = Path(__file__).resolve().parent / "data" / "common-passwords.txt"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


# A well-formed Argon2id hash with today's parameters that no password matches: verifying an
# unknown user's password against it costs exactly what a real verification costs.
DUMMY_HASH = (f"{ARGON2_PREFIX}v={ARGON2_VERSION}$m={ARGON2_MEMORY_KIB},t={ARGON2_TIME_COST},"
              f"p={ARGON2_PARALLELISM}${_b64(secrets.token_bytes(ARGON2_SALT_LEN))}"
              f"${_b64(secrets.token_bytes(ARGON2_HASH_LEN))}")


def hash_password(password: str) -> str:
    """``$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`` (a fresh random salt each time)."""
    return _HASHER.hash(password)


def check_password(stored: str, password: str) -> bool:
    """``password`` against a stored Argon2id hash or a legacy Werkzeug ``scrypt``/``pbkdf2`` one."""
    if stored.startswith("$argon2"):
        try:
            return _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    try:
        return check_password_hash(stored, password)
    except (ValueError, TypeError):  # not a hash Werkzeug knows
        return False


def needs_rehash(stored: str) -> bool:
    """True unless ``stored`` is Argon2id at or above every minimum, read from the string itself."""
    if not stored.startswith(ARGON2_PREFIX):
        return True
    try:
        params = extract_parameters(stored)
    except InvalidHashError:
        return True
    return (params.type is not ARGON2_TYPE or params.version < ARGON2_VERSION
            or params.memory_cost < ARGON2_MEMORY_KIB or params.time_cost < ARGON2_TIME_COST
            or params.parallelism < ARGON2_PARALLELISM or params.hash_len < ARGON2_HASH_LEN
            or params.salt_len < ARGON2_SALT_LEN)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The vendored top-3000 list (lowercase), read once."""
    with COMMON_PASSWORDS_PATH.open(encoding="utf-8") as handle:
        return frozenset(line.rstrip("\n") for line in handle if line.strip() and not line.startswith("#"))


def is_common(password: str) -> bool:
    return password.lower() in common_passwords()


def password_problems(password: str, email: str = "") -> list[str]:
    """What is wrong with ``password`` under the policy (empty list: accepted)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"at most {MAX_PASSWORD_LENGTH} characters")
    if is_common(password):
        problems.append("too common: it is one of the 3,000 most used passwords")
    if email and password.lower() == email.lower():
        problems.append("must differ from the e-mail address")
    if password and len(set(password)) < 4:
        problems.append("at least 4 different characters")
    return problems
