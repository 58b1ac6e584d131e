"""Flask extensions, created unbound and attached in ``create_app`` (init_app style).

CSRF is enforced per form (Flask-WTF ``FlaskForm``), not globally: JSON endpoints and Dash
callbacks only accept ``application/json``, which a cross-site form cannot send.
"""

from __future__ import annotations

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from moviepulse.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
