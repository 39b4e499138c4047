"""What the gateway *is*: merged tool catalog, naming, routing. No Starlette, no SQLAlchemy."""
