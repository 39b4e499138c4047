"""Who may do what: API keys and principals, the request guard, users' credentials, limits, audit."""
