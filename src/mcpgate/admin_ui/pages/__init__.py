"""The web UI's areas, one module each. Each says its `ROUTES`: (path under /admin, handler, methods)."""
