"""Alembic environment: kanri passes its own engine, so there is no alembic.ini."""

from alembic import context

from kanri.console.registry.schema import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
