"""The OAuth 2.1 authorization server of ``unifiedmcp serve`` (customer servers), per the MCP
authorization spec (2025-11-25), from the ``mcp`` SDK's building blocks over the ledger.

    provider = LedgerOAuthProvider(ledger, issuer="https://mcp.example.com", resource="https://mcp.example.com/mcp")
    routes = oauth_routes(provider)     # metadata, /authorize, /oauth/consent, /token, /register, /revoke

Clients register with Dynamic Client Registration (RFC 7591) or come with a Client ID Metadata
Document; /authorize requires PKCE S256 and leads to the consent page, where the customer signs
in with a UnifiedMCP API key and approves the client and its scopes (``mcp:read``,
``mcp:write``). Access tokens (15 minutes) and rotating refresh tokens are bound to the customer,
the client and the resource (RFC 8707), and stored hashed in the ledger. An access token reaches
the tools exactly as the customer's API key would: same caller, same metering, same accounts.
"""

from ._bearer import BearerChallenge
from ._provider import CONSENT_PATH, GrantAccessToken, LedgerOAuthProvider, OAuthOptions, off_loop
from ._routes import METADATA_PATH, oauth_metadata, oauth_routes
from ._scopes import READ, SCOPES, WRITE, allows

__all__ = [
    "CONSENT_PATH",
    "METADATA_PATH",
    "READ",
    "SCOPES",
    "WRITE",
    "BearerChallenge",
    "GrantAccessToken",
    "LedgerOAuthProvider",
    "OAuthOptions",
    "allows",
    "oauth_metadata",
    "oauth_routes",
    "off_loop",
]
