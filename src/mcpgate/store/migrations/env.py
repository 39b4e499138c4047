"""Alembic environment: migrations run on the connection `Database.upgrade()` hands over."""

from alembic import context

from mcpgate.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `mcpgate db upgrade` (Database.upgrade), not the alembic CLI")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
