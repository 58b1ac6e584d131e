"""Password storage and policy: Argon2id at or above OWASP's minimum (read back from the stored
string), legacy Werkzeug hashes verified and upgraded at login (through the login form), the same
code path for unknown users, the vendored top-3000 list, 64-character and pasted Unicode
passphrases accepted."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type, extract_parameters
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from moviepulse.core import auth, passwords
from moviepulse.core.auth import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    create_admin,
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from moviepulse.extensions import db
from moviepulse.models.users import AdminUser

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ["core", "audiences", "dashboard"]
EMAIL = "policy-admin@example.test"
PASSWORD = "a perfectly ordinary passphrase"
PASSPHRASE_64 = "Ünïcødé pasted 🔑 passphrase, with spaces and punctuation: ok? ye"
ARGON2ID = re.compile(r"^\$argon2id\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$")


def parsed(stored: str) -> dict[str, int]:
    """The parameters written in an Argon2id PHC string, parsed by hand (not by the library)."""
    match = ARGON2ID.match(stored)
    assert match, stored
    version, m, t, p = (int(x) for x in match.groups()[:4])
    return {"version": version, "m": m, "t": t, "p": p}


# -- hashing --------------------------------------------------------------------------------

def test_fresh_hash_is_argon2id_at_or_above_the_owasp_minimum():
    stored = hash_password(PASSWORD)
    params = parsed(stored)
    assert params["version"] == 19
    assert params["m"] >= 19456 and params["t"] >= 2 and params["p"] >= 1  # 19 MiB, 2 passes, 1 lane
    lib = extract_parameters(stored)
    assert lib.type is Type.ID and lib.salt_len >= 16 and lib.hash_len >= 32
    assert (lib.memory_cost, lib.time_cost, lib.parallelism) == (params["m"], params["t"], params["p"])
    assert hash_password(PASSWORD) != stored  # a fresh salt each time
    assert not needs_rehash(stored)
    assert len(stored) <= AdminUser.__table__.c.password_hash.type.length


def test_parameters_are_explicit_not_library_defaults():
    assert (passwords.ARGON2_MEMORY_KIB, passwords.ARGON2_TIME_COST, passwords.ARGON2_PARALLELISM) == (19456, 2, 1)
    assert extract_parameters(hash_password(PASSWORD)).memory_cost == passwords.ARGON2_MEMORY_KIB


def test_dummy_hash_costs_what_a_real_hash_costs():
    dummy, real = extract_parameters(passwords.DUMMY_HASH), extract_parameters(hash_password(PASSWORD))
    assert dummy == real
    assert not passwords.check_password(passwords.DUMMY_HASH, PASSWORD)
    assert not passwords.check_password(passwords.DUMMY_HASH, "")


OLD_HASHES = {  # built when the test runs (not at collection): each one costs a hash
    "werkzeug pbkdf2": lambda: generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"),
    "argon2id, too little memory": lambda: PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1).hash(PASSWORD),
    "argon2id, one pass": lambda: PasswordHasher(time_cost=1, memory_cost=19456, parallelism=1).hash(PASSWORD),
    "argon2i": lambda: PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.I).hash(PASSWORD),
    "8-byte salt": lambda: PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, salt_len=8).hash(PASSWORD),
}


@pytest.mark.parametrize("why", OLD_HASHES)
def test_old_or_under_strength_hashes_verify_and_need_a_rehash(why):
    stored = OLD_HASHES[why]()
    assert passwords.check_password(stored, PASSWORD), why
    assert not passwords.check_password(stored, PASSWORD + "!"), why
    assert needs_rehash(stored), why


def test_stronger_argon2id_is_kept():
    stored = PasswordHasher(time_cost=3, memory_cost=32768, parallelism=2).hash(PASSWORD)
    assert passwords.check_password(stored, PASSWORD)
    assert not needs_rehash(stored)


@pytest.mark.parametrize("stored", ["x", "", "$argon2id$garbage", "md5$salt$abc", "$argon2id$v=19$m=1,t=1,p=1$$"])
def test_malformed_hashes_never_verify(stored):
    assert not passwords.check_password(stored, PASSWORD)
    assert needs_rehash(stored)


# -- login: upgrade, and the same path for unknown users ------------------------------------

@pytest.fixture
def dash_app(make_app):
    return make_app(only_plugins=PLUGINS)


def add_admin(app, password_hash: str, email: str = EMAIL) -> None:
    with app.app_context():
        db.session.add(AdminUser(email=email, password_hash=password_hash))
        db.session.commit()


def stored_hash(app, email: str = EMAIL) -> str:
    with app.app_context():
        return db.session.scalar(select(AdminUser.password_hash).where(AdminUser.email == email))


def login(client, email: str = EMAIL, password: str = PASSWORD):
    html = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    return client.post("/admin/login", data={"csrf_token": token, "email": email, "password": password})


def test_scrypt_hash_logs_in_and_is_upgraded_to_argon2id(dash_app):
    old = generate_password_hash(PASSWORD, method="scrypt")  # what hash_password stored before
    assert old.startswith("scrypt:32768:8:1$")
    add_admin(dash_app, old)

    assert login(dash_app.test_client(), password="not the password at all").status_code == 401
    assert stored_hash(dash_app) == old  # a failed login changes nothing

    response = login(dash_app.test_client())
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    upgraded = stored_hash(dash_app)
    params = parsed(upgraded)
    assert params["m"] >= 19456 and params["t"] >= 2 and params["p"] >= 1
    assert not needs_rehash(upgraded)

    # the new hash works, and is not rewritten at every login
    client = dash_app.test_client()
    assert login(client).status_code == 302
    assert stored_hash(dash_app) == upgraded
    assert client.get("/admin/").status_code == 200


def test_under_strength_argon2id_is_upgraded_at_login(dash_app):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    add_admin(dash_app, weak)
    assert login(dash_app.test_client()).status_code == 302
    params = extract_parameters(stored_hash(dash_app))
    assert (params.memory_cost, params.time_cost) == (19456, 2)


def test_unknown_user_login_takes_the_same_code_path(dash_app, monkeypatch):
    add_admin(dash_app, hash_password(PASSWORD))
    checked: list[str] = []
    real_check = passwords.check_password

    def spy(stored: str, password: str) -> bool:
        checked.append(stored)
        return real_check(stored, password)

    monkeypatch.setattr(auth, "check_password", spy)
    known = login(dash_app.test_client(), password="wrong password, known user")
    unknown = login(dash_app.test_client(), email="nobody@example.test", password="wrong password, known user")
    assert known.status_code == unknown.status_code == 401
    # one Argon2id verification each, with identical parameters (the dummy is never a real hash)
    assert checked == [stored_hash(dash_app), passwords.DUMMY_HASH]
    assert extract_parameters(checked[0]) == extract_parameters(checked[1])


def test_verify_password_unknown_user_is_false_and_never_rehashes():
    assert verify_password(None, PASSWORD) is False
    user = AdminUser(email=EMAIL, password_hash=generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"))
    old = user.password_hash
    assert verify_password(user, "wrong wrong wrong") is False and user.password_hash == old
    assert verify_password(user, PASSWORD) is True and parsed(user.password_hash)["m"] >= 19456


def test_64_character_unicode_passphrase_set_then_used_at_login(dash_app):
    assert len(PASSPHRASE_64) == 64
    with dash_app.app_context():
        create_admin(EMAIL, PASSPHRASE_64)
    assert login(dash_app.test_client(), password=PASSPHRASE_64).status_code == 302
    assert login(dash_app.test_client(), password=PASSPHRASE_64.lower()).status_code == 401


def test_login_form_accepts_every_password_the_policy_accepts(dash_app):
    from wtforms.validators import Length

    from moviepulse.dash_app.auth import LoginForm

    limits = [v.max for v in LoginForm.password.kwargs["validators"] if isinstance(v, Length)]
    assert all(limit == -1 or limit >= MAX_PASSWORD_LENGTH for limit in limits)
    html = dash_app.test_client().get("/admin/login").get_data(as_text=True)
    field = re.search(r"<input[^>]*type=\"password\"[^>]*>", html).group(0)
    assert "onpaste" not in field.lower()  # pasting (password managers) is allowed
    maxlength = re.search(r'maxlength="(\d+)"', field)
    assert maxlength is None or int(maxlength.group(1)) >= MAX_PASSWORD_LENGTH


# -- the policy -----------------------------------------------------------------------------

def test_common_password_list_is_vendored_top_3000_lowercase():
    common = passwords.common_passwords()
    assert len(common) == 3000
    assert all(p == p.lower() and p == p.strip() and p for p in common)
    assert {"123456", "password", "qwerty", "iloveyou", "qwerty123456"} <= common
    lines = passwords.COMMON_PASSWORDS_PATH.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#") and "Django" in "".join(lines[:3])
    assert (passwords.COMMON_PASSWORDS_PATH.parent / "README.md").exists()  # source and licence


@pytest.mark.parametrize("password", ["qwerty123456", "QWERTY123456", "1q2w3e4r5t6y", "Q1W2E3R4T5Y6"])
def test_common_passwords_are_rejected_with_a_clear_message(password):
    problems = password_problems(password)
    assert problems == ["too common: it is one of the 3,000 most used passwords"]
    with pytest.raises(ValueError, match="too common"):
        create_admin(EMAIL, password)  # refused before any database access


def test_short_common_password_gets_both_reasons():
    assert password_problems("password") == [f"at least {MIN_PASSWORD_LENGTH} characters",
                                             "too common: it is one of the 3,000 most used passwords"]


@pytest.mark.parametrize("password", [
    PASSPHRASE_64,
    "x" * 60 + "abcd",  # 64, no composition rules
    "correct horse battery staple",
    "all lowercase words no digits",
    "  leading and trailing spaces  ",
    "пароль-для-админки-длинный",
    "密码是一个很长的句子不是吗",
    "🔑🎬🍿🎥 popcorn 🎞️",
    "é" * 9 + "abc",  # 12 code points
])
def test_long_pasted_and_unicode_passwords_are_accepted(password):
    assert password_problems(password, EMAIL) == []


def test_length_limits():
    assert MIN_PASSWORD_LENGTH >= 8
    assert password_problems("abcdefghijk")  # 11
    assert not password_problems("abcdefghijkl")  # 12
    assert not password_problems("abcd" * (MAX_PASSWORD_LENGTH // 4))
    assert password_problems("abcd" * (MAX_PASSWORD_LENGTH // 4) + "e") == [f"at most {MAX_PASSWORD_LENGTH} characters"]
    assert MAX_PASSWORD_LENGTH >= 64


def test_other_rules_kept():
    assert password_problems(EMAIL, EMAIL) == ["must differ from the e-mail address"]
    assert password_problems("abababababababab") == ["at least 4 different characters"]


def test_cli_create_admin_refuses_a_common_password(dash_app):
    runner = dash_app.test_cli_runner()
    refused = runner.invoke(args=["create-admin", "--email", EMAIL, "--password-stdin"], input="qwerty123456\n")
    assert refused.exit_code != 0 and "too common" in refused.output
    accepted = runner.invoke(args=["create-admin", "--email", EMAIL, "--password-stdin"], input=PASSWORD + "\n")
    assert accepted.exit_code == 0, accepted.output
    assert not needs_rehash(stored_hash(dash_app))


def test_packaging_ships_the_list_and_requires_argon2():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert "core/data/*" in cfg["options.package_data"]["moviepulse"].split()
    assert any(r.strip().startswith("argon2-cffi") for r in cfg["options"]["install_requires"].splitlines())
