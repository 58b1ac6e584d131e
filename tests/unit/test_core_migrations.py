"""The Alembic migrations create exactly the schema the models describe (SQLite here; PostgreSQL in parity)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from moviepulse.app import create_app
from moviepulse.extensions import db
from moviepulse.models import Base


def schema_differences(app) -> list:
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            return compare_metadata(ctx, Base.metadata)


def test_migrations_match_models_on_sqlite(tmp_path):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/m.db", INSTANCE_PATH=str(tmp_path))
    assert schema_differences(app) == []


def test_migrations_match_models_on_postgresql(tmp_path):
    """The same migration files build the same schema on PostgreSQL."""
    from tests.support.services import drop_postgres_database, fresh_postgres_database

    name, url = fresh_postgres_database("mp_migrate")
    try:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, INSTANCE_PATH=str(tmp_path))
        assert schema_differences(app) == []
        with app.app_context():
            db.engine.dispose()
    finally:
        drop_postgres_database(name)
