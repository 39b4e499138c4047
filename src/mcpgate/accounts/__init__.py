"""End users' accounts at upstreams that sign in with OAuth (#28): the gateway as an OAuth client.

    discovery.py   the upstream's authorization server (RFC 9728, RFC 8414) and the registration there
    service.py     UpstreamAccounts: links to connect, the callback's exchange, tokens kept and refreshed,
                   and which connection carries whose token (hub.Authorizations)
    callback.py    GET /oauth/callback: where the person's browser comes back

Light to import: the SDK's OAuth pieces and httpx load with the first connection made.
"""
