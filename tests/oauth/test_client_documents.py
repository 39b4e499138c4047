"""Client ID metadata documents, served for real: a client whose client_id is an https URL is
described by the document there and registers nothing. The documents are served over TLS on
127.0.0.1 by a certificate of a CA made here, which the gateway (in this process) trusts through
SSL_CERT_FILE; the official SDK client drives the flow with `client_metadata_url`."""

from __future__ import annotations

import gzip
import ipaddress
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from mcp.client.auth.oauth2 import PKCEParameters
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from mcpgate.oauth import client_documents
from tests.conftest import running_gateway, serve_asgi, stdio_echo
from tests.oauth.person import REDIRECT, MemoryStorage, Person, Registered, oauth_client, oauth_provider

pytestmark = pytest.mark.anyio

ADMIN = "static-admin-key-for-client-document-tests"
# Where the flow goes only as far as the authorization request, no upstream is needed.
BARE: dict[str, Any] = {"api_key": ADMIN, "oauth": {"mode": "builtin"}}
CONFIG: dict[str, Any] = {**BARE, "mcpServers": {"demo": stdio_echo("demo")}}


# -- an https origin of the test's own ----------------------------------------------------


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A certificate authority and a server certificate it signed for IP 127.0.0.1:
    (the CA's certificate, the server's certificate, the server's key), as PEM files."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mcpgate test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_path, cert_path, key_path


def serve_https(app: Any, certificate: Path, key: Path) -> AbstractAsyncContextManager[str]:
    """`app` over TLS on 127.0.0.1:<free port>; yields its https base URL."""
    return serve_asgi(app, ssl_certfile=str(certificate), ssl_keyfile=str(key))


@dataclass
class DocumentHost:
    """Where clients keep their metadata documents: https (and, for one test, plain http) on
    127.0.0.1. `served` counts the requests for each path."""

    url: str = ""  # https://127.0.0.1:<port>
    plain_url: str = ""  # http://127.0.0.1:<port>, the same documents
    served: Counter[str] = field(default_factory=Counter)

    def document(self, path: str, **changes: Any) -> dict[str, Any]:
        """What a client following the MCP specification's example publishes at `path` (it names
        no `scope`); `changes` alter it, a value of None leaves a member out."""
        document = {
            "client_id": f"{self.url}{path}",
            "client_name": "Documented Client",
            "client_uri": self.url,
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
        document.update(changes)
        return {name: value for name, value in document.items() if value is not None}

    def answers(self) -> dict[str, Callable[[Request], Any]]:
        def padded(path: str, size: int) -> Response:
            """The document at `path`, `size` bytes long."""
            body = json.dumps({**self.document(path), "padding": ""}).encode()
            body = body[:-2] + b"x" * (size - len(body)) + body[-2:]
            assert len(body) == size and json.loads(body)["client_id"].endswith(path)
            return Response(body, media_type="application/json")

        async def dribbled() -> AsyncIterator[bytes]:
            for byte in json.dumps(self.document("/dribbled.json")).encode():
                yield bytes([byte])
                await anyio.sleep(0.01)  # a slow server, not a wait for anything

        # The document the client at `request`'s path would serve, as the request came (https or http).
        def own(request: Request) -> dict[str, Any]:
            return self.document(request.url.path, client_id=str(request.url))

        return {
            "/client.json": lambda request: JSONResponse(own(request)),
            "/scoped.json": lambda request: JSONResponse(self.document("/scoped.json", scope="tools:call")),
            "/impostor.json": lambda request: JSONResponse(self.document("/client.json")),
            "/no-redirect-uris.json": lambda request: JSONResponse(self.document(request.url.path, redirect_uris=None)),
            "/empty-redirect-uris.json": lambda request: JSONResponse(
                self.document(request.url.path, redirect_uris=[])
            ),
            "/large.json": lambda request: padded("/large.json", 64 * 1024 + 1),
            "/nearly-large.json": lambda request: padded("/nearly-large.json", 64 * 1024),
            "/moved.json": lambda request: RedirectResponse(f"{self.url}/moved-here.json", status_code=307),
            "/moved-here.json": lambda request: JSONResponse(self.document("/moved.json")),
            "/gone.json": lambda request: JSONResponse({"error": "not found"}, status_code=404),
            "/not-json.json": lambda request: Response("<html>hello</html>", media_type="text/html"),
            "/compressed.json": lambda request: Response(
                gzip.compress(json.dumps(self.document("/compressed.json")).encode()),
                media_type="application/json",
                headers={"content-encoding": "gzip"},
            ),
            "/dribbled.json": lambda request: StreamingResponse(dribbled(), media_type="application/json"),
        }

    def app(self) -> Starlette:
        answers = self.answers()

        async def serve(request: Request) -> Response:
            self.served[request.url.path] += 1
            answer = answers.get(request.url.path)
            return answer(request) if answer is not None else Response(status_code=404)

        return Starlette(routes=[Route("/{path:path}", serve)])


@pytest.fixture
async def documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DocumentHost]:
    ca, certificate, key = make_certificates(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # httpx (the gateway's fetch) trusts this CA alone
    host = DocumentHost()
    app = host.app()
    async with serve_https(app, certificate, key) as url, serve_asgi(app) as plain_url:
        host.url, host.plain_url = url, plain_url
        yield host


async def make_key(url: str, **body: Any) -> str:
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": ADMIN}, timeout=10) as admin:
        answer = await admin.post("/api/v1/keys", json={"name": "person", **body})
        assert answer.status_code == 201, answer.text
        return answer.json()["key"]


async def authorize(gateway_url: str, client_id: str, redirect_uri: str = REDIRECT, **params: str) -> httpx.Response:
    """The authorization request a browser carries (not followed: where it leads is the point)."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": PKCEParameters.generate().code_challenge,
        "code_challenge_method": "S256",
        "state": "s-1",
        "scope": "tools:call",
        "resource": f"{gateway_url}/mcp",
        **params,
    }
    async with httpx.AsyncClient(timeout=10) as browser:
        return await browser.get(f"{gateway_url}/oauth/authorize", params=query)


def refused_directly(answer: httpx.Response) -> str:
    """The authorization server answered the person itself (400, JSON): no sign-in page, and no
    redirect to a URI it could not trust. Its error description."""
    assert answer.status_code == 400, (answer.status_code, answer.headers, answer.text[:300])
    assert answer.headers["content-type"].startswith("application/json")
    assert "location" not in answer.headers and 'name="api_key"' not in answer.text
    assert answer.json()["error"] == "invalid_request"
    return answer.json()["error_description"]


# -- the tests ----------------------------------------------------------------------------


async def test_a_client_named_by_its_document_connects_without_registering(documents: DocumentHost) -> None:
    async with running_gateway(CONFIG) as gateway:
        key = await make_key(gateway.url, scopes=["tools:call"])
        person, storage = Person(key), MemoryStorage()
        endpoint = f"{gateway.url}/mcp"
        client_id = f"{documents.url}/client.json"
        auth = oauth_provider(endpoint, person, storage, client_metadata_url=client_id)
        async with oauth_client(endpoint, "streamable_http", auth) as client:
            result = await client.call_tool("demo_echo", {"text": "hi"})
            assert result.content[0].text.endswith("hi")
        # The sign-in page names the client as its document does, and where the name comes from.
        assert "Documented Client" in person.pages[0].text and client_id in person.pages[0].text
        # Fetched once (authorization and token requests alike are answered from what was kept),
        # registered never.
        assert documents.served["/client.json"] == 1
        assert await gateway.oauth.store.clients() == []
        assert [grant.client_id for grant in await gateway.oauth.store.grants()] == [client_id]
        # A public client: it refreshes with its URL as client_id and no secret.
        assert storage.tokens is not None and storage.tokens.refresh_token
        refreshed = await Registered(gateway.url, client_id).token(
            grant_type="refresh_token", refresh_token=storage.tokens.refresh_token
        )
        assert refreshed.status_code == 200, refreshed.text
        assert documents.served["/client.json"] == 1


async def test_a_document_that_names_its_scopes_is_held_to_them(documents: DocumentHost) -> None:
    async with running_gateway(BARE) as gateway:
        client_id = f"{documents.url}/scoped.json"
        assert (await authorize(gateway.url, client_id, scope="tools:call")).status_code == 302
        answer = await authorize(gateway.url, client_id, scope="tools:call users:act")
        # A scope error goes back to the client (its redirect URI was checked first).
        assert answer.status_code == 302 and answer.headers["location"].startswith(REDIRECT)
        assert "error=invalid_scope" in answer.headers["location"]


async def test_a_document_just_under_the_size_limit_is_used(documents: DocumentHost) -> None:
    async with running_gateway(BARE) as gateway:
        answer = await authorize(gateway.url, f"{documents.url}/nearly-large.json")
        assert answer.status_code == 302 and "/oauth/sign-in?request=" in answer.headers["location"], answer.text


@pytest.mark.parametrize(
    "path",
    [
        "/impostor.json",  # its client_id is another URL
        "/no-redirect-uris.json",
        "/empty-redirect-uris.json",
        "/large.json",  # one byte over 64 KiB
        "/moved.json",  # a 307 to a document that would do: redirects are not followed
        "/gone.json",
        "/not-json.json",
        "/compressed.json",  # asked for identity: a small gzip body may unpack past any limit
    ],
)
async def test_a_client_whose_document_cannot_be_used_is_not_found(documents: DocumentHost, path: str) -> None:
    async with running_gateway(BARE) as gateway:
        client_id = f"{documents.url}{path}"
        described = refused_directly(await authorize(gateway.url, client_id))
        assert described == f"Client ID '{client_id}' not found"
        assert documents.served[path] == 1
        assert documents.served["/moved-here.json"] == 0
        # Asked again (the token endpoint, another attempt): what was learnt is kept, not fetched again.
        refused_directly(await authorize(gateway.url, client_id))
        assert documents.served[path] == 1
        assert await gateway.oauth.store.clients() == []


async def test_a_redirect_uri_the_document_does_not_list_is_refused(documents: DocumentHost) -> None:
    async with running_gateway(BARE) as gateway:
        answer = await authorize(gateway.url, f"{documents.url}/client.json", "http://127.0.0.1:1/elsewhere")
        assert "not registered for client" in refused_directly(answer)


async def test_a_plain_http_client_id_is_never_fetched(documents: DocumentHost) -> None:
    async with running_gateway(BARE) as gateway:
        client_id = f"{documents.plain_url}/client.json"  # served there, with itself as client_id
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(client_id)).json()["client_id"] == client_id
        assert refused_directly(await authorize(gateway.url, client_id)) == f"Client ID '{client_id}' not found"
        assert documents.served["/client.json"] == 1  # the test's own look above, nothing more


@pytest.mark.parametrize(
    "client_id",
    ["https://127.0.0.1:99999/client.json", "https://[::1/client.json", "https://example.com:abc/client.json"],
)
async def test_a_client_id_that_is_no_url_is_not_found(client_id: str) -> None:
    async with running_gateway(BARE) as gateway:
        assert refused_directly(await authorize(gateway.url, client_id)) == f"Client ID '{client_id}' not found"


async def test_a_document_that_takes_too_long_is_not_waited_for(
    documents: DocumentHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit is on the whole fetch, not on each read: a server that sends a byte at a time
    never pauses long enough to trip a read timeout."""
    monkeypatch.setattr(client_documents, "_TIMEOUT", 0.5)  # the 5 s of the product, made quick
    async with running_gateway(BARE) as gateway:
        started = anyio.current_time()
        refused_directly(await authorize(gateway.url, f"{documents.url}/dribbled.json"))
        assert anyio.current_time() - started < 2
