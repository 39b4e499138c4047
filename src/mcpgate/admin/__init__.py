"""The management API (`/api/v1`): upstreams and virtual servers, served with an OpenAPI document."""
