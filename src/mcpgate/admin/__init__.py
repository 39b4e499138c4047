"""The management API (`/api/v1`): upstreams and virtual servers, served with an OpenAPI document."""

PREFIX = "/api/v1"  # here, not in context.py: the app routes to it without loading the API
