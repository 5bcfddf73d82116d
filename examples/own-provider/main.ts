/**
 * An oidc-provider of your own with the token-exchange extension, added as the README's "Add it to
 * your own provider" shows (the two marked regions below are that snippet, checked by a test).
 *
 * It starts the provider on a free 127.0.0.1 port (PORT to choose one), signs the support agent in to
 * the support tool (authorization code + PKCE with openid-client: that is how an actor obtains the
 * access token it presents as `actor_token`), exchanges it for a token that acts as alice (RFC 8693),
 * introspects that token as the orders API (RFC 7662), prints both answers and exits 0.
 *
 *   npm run example                                       in-memory store
 *   REDIS_URL=redis://127.0.0.1:6379/15 npm run example   Redis (REDIS_PREFIX, default example:)
 *
 * It imports the package only through its public exports, as your application would.
 */
// #region imports
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { MemoryAuditSink, tokenExchange, type AccountDirectory } from 'oidc-provider-token-exchange';
// #endregion imports
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { createMemoryStore, createStore, TOKEN_EXCHANGE_GRANT, TokenType, type Store } from 'oidc-provider-token-exchange';
import { loginPage, signInAs } from './sign-in.js';

/** Your users: an agent who holds the `impersonator` role (policy.actorRoles' default) and a customer. */
const users = new Map([
  ['agent-7', { id: 'agent-7', name: 'Sam Agent', orgId: 'acme', roles: ['support', 'impersonator'], active: true, password: 'agent-password' }],
  ['alice', { id: 'alice', name: 'Alice Example', orgId: 'acme', roles: ['customer'], active: true, password: 'alice-password' }],
]);

/** The store: in process memory, or Redis when REDIS_URL is set (every instance then shares it). */
async function openStore(): Promise<Store> {
  if (!process.env.REDIS_URL) return createMemoryStore();
  const { connectRedis } = await import('oidc-provider-token-exchange/redis');
  return createStore(await connectRedis(process.env.REDIS_URL), process.env.REDIS_PREFIX ?? 'example:');
}

/** Settings of yours the extension does not care about: passed through unchanged. */
const yourConfiguration = { ttl: { Grant: 8 * 3600, Interaction: 600, Session: 8 * 3600 } };

const server = createServer();
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve));
const issuer = `http://localhost:${(server.address() as AddressInfo).port}`;
const store = await openStore();

// #region provider
const accounts: AccountDirectory = {
  // read live at every exchange: roles, tenant and state are never trusted from old token claims
  async findAccount(id) {
    const user = users.get(id);
    return user && { id: user.id, tenant: user.orgId, roles: user.roles, disabled: !user.active };
  },
};

const exchange = tokenExchange({
  accounts,
  store,                         // createMemoryStore(), or createStore(await connectRedis(url), 'oidc:')
  audit: new MemoryAuditSink(),  // any { write(event) }; a rejected write issues nothing
  policy: { enabled: true },     // off until enabled; the actor needs a role of policy.actorRoles ('impersonator')
  resourceServers: {
    // tokens for this API are opaque, so it introspects them as the client 'orders-api'
    'https://api.example.com/orders': { scope: 'orders:read orders:write', accessTokenFormat: 'opaque', clients: ['orders-api'] },
  },
});

// The provider's signing keys (the extension verifies the JWTs this provider signed). Generate them
// once and keep them in your secret store; this example makes a fresh one at every start.
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwks = { keys: [{ ...(await exportJWK(privateKey)), kid: 'example-1', alg: 'RS256', use: 'sig' }] };

// oidc-provider reads extraTokenClaims, resource indicators and features only at construction, so
// the extension hands you the configuration to build with (introspection and revocation turned
// on), then registers the grant on the provider.
const provider = new Provider(issuer, exchange.configuration({
  ...yourConfiguration,
  jwks,
  findAccount: async (_ctx, sub) => (users.has(sub) ? { accountId: sub, claims: () => ({ sub, name: users.get(sub)!.name }) } : undefined),
  clients: [
    {
      // where agents sign in (authorization code + PKCE): the access token they get is the actor_token
      client_id: 'support-tool',
      client_secret: 'support-tool-secret',
      grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:token-exchange'],
      redirect_uris: [`${issuer}/support/callback`],
      scope: 'openid orders:read',
    },
    // the API's own credentials: an exchanged token is introspected only by the API it is for
    { client_id: 'orders-api', client_secret: 'orders-api-secret', grant_types: [], response_types: [], redirect_uris: [] },
  ],
  scopes: ['openid', 'orders:read', 'orders:write'], // oidc-provider checks each client's scope against this list
  features: { devInteractions: { enabled: false } }, // your own login pages answer /interaction/<uid>
}));
exchange.register(provider);
// #endregion provider

provider.use(loginPage(provider, async (login, password) => (users.get(login)?.password === password ? login : undefined)));
server.on('request', provider.callback());

try {
  const http = { execute: [oidc.allowInsecureRequests] }; // the example's issuer is http://localhost
  const supportTool = await oidc.discovery(new URL(issuer), 'support-tool', 'support-tool-secret', undefined, http);
  const ordersApi = await oidc.discovery(new URL(issuer), 'orders-api', 'orders-api-secret', undefined, http);

  // 1. The agent signs in to the support tool: their access token is the actor token.
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const redirectUri = `${issuer}/support/callback`;
  const authorizationUrl = oidc.buildAuthorizationUrl(supportTool, {
    redirect_uri: redirectUri,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  const callback = await signInAs(authorizationUrl, redirectUri, 'agent-7', 'agent-password');
  const agent = await oidc.authorizationCodeGrant(supportTool, callback, { pkceCodeVerifier: verifier, expectedState: state });

  // 2. The support tool exchanges it for a token that acts as alice (RFC 8693 §2.1).
  const exchanged = await oidc.genericGrantRequest(supportTool, TOKEN_EXCHANGE_GRANT, {
    subject_token: 'alice',
    subject_token_type: TokenType.userId,
    actor_token: agent.access_token,
    actor_token_type: TokenType.accessToken,
    resource: 'https://api.example.com/orders',
    scope: 'orders:read',
    reason: 'Ticket 4711: alice cannot see her orders',
  });

  // 3. The orders API introspects it (RFC 7662): alice's token, and who really acts.
  const introspected = await oidc.tokenIntrospection(ordersApi, exchanged.access_token);
  const { active, sub, act, scope, client_id: clientId, impersonation } = introspected;
  const result = {
    exchange: { issued_token_type: exchanged.issued_token_type, token_type: exchanged.token_type, scope: exchanged.scope, expires_in: exchanged.expires_in },
    introspection: { active, sub, act, scope, client_id: clientId, impersonation },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const ok = active === true && sub === 'alice' && (act as { sub?: string } | undefined)?.sub === 'agent-7';
  if (!ok) process.stderr.write('example: expected an active token for alice acting as agent-7\n');
  process.exitCode = ok ? 0 : 1;
} catch (err) {
  process.stderr.write(`example: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  server.close();
  server.closeAllConnections();
  await exchange.close();
  await store.close();
}
