"""Registry: SQLAlchemy models, migrations and the database connection."""
