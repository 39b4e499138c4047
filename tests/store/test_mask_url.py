"""What the API shows of a URL: credentials and query values masked, everything else as it was."""

from __future__ import annotations

import pytest

from mcpgate.store.crypto import MASK, mask_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://mcp.example.com/mcp", "https://mcp.example.com/mcp"),
        ("https://mcp.example.com/mcp?token=s3cret&v=2", f"https://mcp.example.com/mcp?token={MASK}&v={MASK}"),
        ("https://bob:s3cret@mcp.example.com/mcp", f"https://bob:{MASK}@mcp.example.com/mcp"),
        ("https://ghp_s3cret@mcp.example.com:8443/sse", f"https://{MASK}@mcp.example.com:8443/sse"),
        ("http://bob:s3cret@mcp.example.com", f"http://bob:{MASK}@mcp.example.com"),
        ("https://mcp.example.com:8443/users/@me:x", "https://mcp.example.com:8443/users/@me:x"),  # @ in the path
    ],
)
def test_credentials_and_query_values_are_masked(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert "s3cret" not in mask_url(url)
