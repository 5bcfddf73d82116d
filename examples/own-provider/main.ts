/**
 * Drives `server.ts` (the README's "Add it to your own provider", pasted whole: a test checks they
 * are the same) the way your support tool and your API would: it starts that provider on a free port
 * (PORT to choose one), signs the agent in to the support tool (authorization code + PKCE with
 * openid-client: that is how an actor obtains the access token it presents as `actor_token`),
 * exchanges it for a token that acts as alice (RFC 8693 §2.1), introspects that token as the orders
 * API (RFC 7662) and, when API_URL names an API built with the resource-server toolkit, calls its
 * GET /orders with the token; it prints the answers and exits 0.
 *
 *   npm run example                                       in-memory store
 *   REDIS_URL=redis://127.0.0.1:6379/15 npm run example   Redis (REDIS_PREFIX, default my-provider:)
 *
 * It imports the package only through its public exports, as your application would.
 */
import { createServer as createProbe } from 'node:net';
import * as oidc from 'openid-client';
import { TOKEN_EXCHANGE_GRANT, TokenType } from 'oidc-provider-token-exchange';
import { signInAs } from './sign-in.js';

/** A free port for the provider (server.ts reads PORT, as it would in your deployment). */
const freePort = await new Promise<number>((resolve) => {
  const probe = createProbe().listen(0, '127.0.0.1', () => {
    const { port } = probe.address() as { port: number };
    probe.close(() => resolve(port));
  });
});
process.env.PORT ??= String(freePort);
const { issuer, server, exchange, store } = await import('./server.js');
await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));

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
    resource: 'https://api.example.test/orders',
    scope: 'orders:read',
    reason: 'Ticket 4711: alice cannot see her orders',
  });

  // 3. The orders API introspects it (RFC 7662): alice's token, and who really acts.
  const introspected = await oidc.tokenIntrospection(ordersApi, exchanged.access_token);
  const { active, sub, act, scope, client_id: clientId, impersonation } = introspected;
  // 4. An API built with the resource-server toolkit verifies it (docs/resource-server.md).
  let api: unknown;
  if (process.env.API_URL) {
    const response = await fetch(new URL('/orders', process.env.API_URL), { headers: { authorization: `Bearer ${exchanged.access_token}` } });
    api = { status: response.status, body: await response.json() };
  }
  const result = {
    exchange: { issued_token_type: exchanged.issued_token_type, token_type: exchanged.token_type, scope: exchanged.scope, expires_in: exchanged.expires_in },
    introspection: { active, sub, act, scope, client_id: clientId, impersonation },
    ...(api ? { api } : {}),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const ok = active === true && sub === 'alice' && (act as { sub?: string } | undefined)?.sub === 'agent-7' && (!api || (api as { status: number }).status === 200);
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
