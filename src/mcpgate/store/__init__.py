"""Persistence: the only package that imports SQLAlchemy. It returns plain records, never ORM rows."""
