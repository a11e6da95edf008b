"""A real OAuth 2.1 flow against pier in `auth.mode = "jwt"`.

Usage:
  oauth_flow.py

Starts an authorization server on a free loopback port: the `mcp` package's own
authorization-server routes (metadata, dynamic client registration, authorize, token)
over FastMCP's in-memory provider, changed only to issue its access tokens as RS256
JWTs (`iss` this server, `aud` the RFC 8707 resource the client asked for, `sub`
`oauth-user`, the granted scopes) and to publish the key at `/jwks.json`. Prints one JSON
line `{"issuer": URL, "jwks": URL}`, then reads pier's `/mcp` URL from standard input.

Then the `mcp` SDK's `OAuthClientProvider` does the rest as a real client would: its first
request is answered 401, it reads pier's protected-resource metadata, the authorization
server's metadata, registers, is sent to `/authorize` (followed here, in place of a
browser, with the user consenting at once), exchanges the code with PKCE for a token and
calls tools with it. Prints one JSON object with what it saw; the Rust test asserts it.
"""

import asyncio
import json
import socket
import sys
import time
from urllib.parse import parse_qs, urlparse

import httpx2
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastmcp.server.auth.providers.in_memory import InMemoryOAuthProvider
from mcp.client.auth import OAuthClientProvider
from mcp.server.auth.routes import create_auth_routes
from mcp.server.auth.settings import ClientRegistrationOptions
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata, OAuthToken
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "as-key-1"
SCOPES = ["mcp", "tools:read"]


class JwtIssuingProvider(InMemoryOAuthProvider):
    """FastMCP's in-memory provider, issuing JWT access tokens for the requested resource."""

    def __init__(self, issuer):
        super().__init__(base_url=issuer)
        self.issuer = issuer
        self.resources = {}

    async def authorize(self, client, params):
        redirect = await super().authorize(client, params)
        code = parse_qs(urlparse(redirect).query)["code"][0]
        self.resources[code] = params.resource
        return redirect

    async def exchange_authorization_code(self, client, authorization_code):
        resource = self.resources.pop(authorization_code.code, None)
        token = await super().exchange_authorization_code(client, authorization_code)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "oauth-user",
            "aud": resource,
            "client_id": client.client_id,
            "scope": " ".join(authorization_code.scopes),
            "iat": now,
            "exp": now + 600,
        }
        access = jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": KID})
        return OAuthToken(
            access_token=access,
            token_type="Bearer",
            expires_in=600,
            scope=token.scope,
            refresh_token=token.refresh_token,
        )


def jwks(_request):
    numbers = KEY.public_key().public_numbers()

    def b64(n):
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return jwt.utils.base64url_encode(raw).decode()

    key = {"kty": "RSA", "kid": KID, "use": "sig", "alg": "RS256", "n": b64(numbers.n), "e": b64(numbers.e)}
    return JSONResponse({"keys": [key]})


class Memory:
    """Token storage in memory."""

    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info):
        self.client = client_info


async def main():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    # As the `mcp` package writes it (with a trailing slash), so the metadata's `issuer`,
    # the tokens' `iss` and pier's `authorization-servers` agree to the byte.
    issuer = str(AnyHttpUrl(f"http://127.0.0.1:{sock.getsockname()[1]}"))
    provider = JwtIssuingProvider(issuer)
    routes = create_auth_routes(
        provider,
        issuer_url=AnyHttpUrl(issuer),
        client_registration_options=ClientRegistrationOptions(enabled=True, valid_scopes=SCOPES),
    )
    app = Starlette(routes=[*routes, Route("/jwks.json", jwks)])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    print(json.dumps({"issuer": issuer, "jwks": f"{issuer}jwks.json"}), flush=True)

    url = (await asyncio.to_thread(sys.stdin.readline)).strip()
    seen = {"requests": []}
    landed = {}

    async def redirect_handler(authorization_url):
        # The user's browser: it opens the authorization URL; the user consents at once
        # and the authorization server redirects back with the code.
        query = parse_qs(urlparse(authorization_url).query)
        seen["authorize_resource"] = query.get("resource", [None])[0]
        seen["authorize_scope"] = query.get("scope", [None])[0]
        async with httpx2.AsyncClient() as browser:
            answer = await browser.get(authorization_url, follow_redirects=False)
        back = parse_qs(urlparse(answer.headers["location"]).query)
        landed["code"] = back["code"][0]
        landed["state"] = back.get("state", [None])[0]

    async def callback_handler():
        return AuthorizationCodeResult(code=landed["code"], state=landed["state"])

    oauth = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="pier oauth test",
            redirect_uris=["http://127.0.0.1:9/callback"],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=Memory(),
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )

    async def record(response):
        seen["requests"].append(f"{response.request.method} {response.request.url.path} {response.status_code}")

    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(auth=oauth, event_hooks={"response": [record]}) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                greet = await session.call_tool("hello_greet", {"name": "Ada"})
                whoami = await session.call_tool("hostile_whoami", {})
    token = jwt.decode(oauth.context.current_tokens.access_token, options={"verify_signature": False})
    seen["greet"] = greet.content[0].text
    seen["whoami"] = whoami.content[0].text.split(" subject=")[-1]
    seen["token"] = {"iss": token["iss"] == issuer, "aud": token["aud"], "sub": token["sub"], "scope": token["scope"]}
    print(json.dumps(seen, sort_keys=True), flush=True)
    server.should_exit = True
    await serving


if __name__ == "__main__":
    asyncio.run(main())
