// The official TypeScript SDK client through UnifiedMCP's OAuth flow, end to end, no human:
// discovery (401 -> protected-resource metadata -> authorization-server metadata), Dynamic Client
// Registration, /authorize with PKCE, the consent page submitted with the customer's API key,
// the code exchanged for tokens, tool calls, a refresh (rotating), the old refresh token refused,
// revocation, then 401. Prints one JSON object with what each step saw; the Python test
// (test_oauth_client.py) asserts on it and on the ledger.
//
//   SDK_DIR=.cache/mcp-sdk/node_modules/@modelcontextprotocol/sdk MCP_URL=http://127.0.0.1:P/mcp \
//   API_KEY=umk_... node oauth_client.mjs
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const sdk = (path) => import(pathToFileURL(join(process.env.SDK_DIR, "dist/esm", path)).href);
const { Client } = await sdk("client/index.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
const { UnauthorizedError, refreshAuthorization, discoverAuthorizationServerMetadata } = await sdk("client/auth.js");

const MCP_URL = process.env.MCP_URL;
const API_KEY = process.env.API_KEY;
const REDIRECT = "http://127.0.0.1:9/callback"; // never reached: the test reads the redirect itself
const report = {};

// The consent page, as a person's browser would see it, submitted with the customer's API key.
async function consent(authorizationUrl) {
  const toConsent = await fetch(authorizationUrl, { redirect: "manual" });
  const page = new URL(toConsent.headers.get("location"), authorizationUrl);
  const html = await (await fetch(page)).text();
  report.consentPageNamesClient = html.includes("TS SDK end-to-end");
  const handle = html.match(/name=request value="([^"]+)"/)[1];
  const form = new URLSearchParams({ request: handle, api_key: API_KEY, decision: "approve" });
  for (const m of html.matchAll(/name=scope value="([^"]+)"/g)) form.append("scope", m[1]);
  const decided = await fetch(page, { method: "POST", body: form, redirect: "manual" });
  const back = new URL(decided.headers.get("location"));
  report.stateReturned = back.searchParams.get("state") === authorizationUrl.searchParams.get("state");
  return back.searchParams.get("code");
}

class Provider {
  constructor() { this.info = undefined; this.saved = undefined; this.verifier = undefined; this.code = undefined; }
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() {
    return { client_name: "TS SDK end-to-end", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"],
             response_types: ["code"], token_endpoint_auth_method: "none" };
  }
  state() { return "state-" + Math.random().toString(36).slice(2); }
  clientInformation() { return this.info; }
  saveClientInformation(info) { this.info = info; }
  tokens() { return this.saved; }
  saveTokens(tokens) { this.saved = tokens; }
  async redirectToAuthorization(url) {
    report.authorizeHadPkceS256 = url.searchParams.get("code_challenge_method") === "S256";
    report.authorizeResource = url.searchParams.get("resource");
    this.code = await consent(url);
  }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
}

const provider = new Provider();
const connect = async () => {
  const client = new Client({ name: "unifiedmcp-oauth-e2e", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider }));
  return client;
};

// 1. No token yet: the SDK discovers, registers, authorizes (our consent), then stops for the code.
const first = new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider });
try {
  await new Client({ name: "unifiedmcp-oauth-e2e", version: "1.0.0" }).connect(first);
  report.unauthorizedFirst = false;
} catch (e) {
  report.unauthorizedFirst = e instanceof UnauthorizedError;
}
report.registeredClientId = provider.info?.client_id ?? null;
await first.finishAuth(provider.code);
report.tokenScope = provider.saved?.scope;
report.accessTokenPrefix = provider.saved?.access_token.slice(0, 7);

// 2. Tool calls with the access token.
let client = await connect();
report.tools = (await client.listTools()).tools.length;
const usage = await client.callTool({ name: "get_usage", arguments: {} });
report.usageCustomer = usage.structuredContent?.customer;
const created = await client.callTool({ name: "create_customer", arguments: { name: "Made over OAuth" } });
report.createdCustomer = created.structuredContent?.id;
report.createdReplayed = created.structuredContent?.replayed;
await client.close();

// 3. Refresh: new tokens; the rotated refresh token is refused afterwards.
const server = new URL("/", MCP_URL);
const metadata = await discoverAuthorizationServerMetadata(server);
report.metadataCimd = metadata.client_id_metadata_document_supported === true;
const old = provider.saved;
const renewed = await refreshAuthorization(server, { metadata, clientInformation: provider.info, refreshToken: old.refresh_token, resource: new URL(MCP_URL) });
report.refreshRotated = renewed.refresh_token !== old.refresh_token && renewed.access_token !== old.access_token;
provider.saveTokens(renewed);
try {
  await refreshAuthorization(server, { metadata, clientInformation: provider.info, refreshToken: old.refresh_token });
  report.oldRefreshRefused = false;
} catch (e) {
  report.oldRefreshRefused = String(e).includes("invalid_grant") || e?.constructor?.name === "InvalidGrantError";
}
// Reusing a rotated refresh token revoked the whole grant (OAuth 2.1): authorize again.
const reused = await fetch(MCP_URL, { method: "POST", headers: { Authorization: `Bearer ${renewed.access_token}` } });
report.grantRevokedByReuse = reused.status === 401;
provider.saved = undefined;
const again = new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider });
try { await new Client({ name: "unifiedmcp-oauth-e2e", version: "1.0.0" }).connect(again); } catch (e) { /* UnauthorizedError */ }
await again.finishAuth(provider.code);
client = await connect();
const afterRefresh = await client.callTool({ name: "get_usage", arguments: {} });
report.callsAfterReauthorize = afterRefresh.structuredContent?.calls;
await client.close();

// 4. Revoke (RFC 7009), then the token is refused with 401 invalid_token.
const revoked = await fetch(metadata.revocation_endpoint, {
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({ token: provider.saved.access_token, client_id: provider.info.client_id, client_secret: "" }),
});
report.revokeStatus = revoked.status;
const after = await fetch(MCP_URL, {
  method: "POST",
  headers: { Authorization: `Bearer ${provider.saved.access_token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
});
report.afterRevokeStatus = after.status;
report.afterRevokeChallenge = after.headers.get("www-authenticate");
console.log(JSON.stringify(report));
