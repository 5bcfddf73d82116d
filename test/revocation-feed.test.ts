import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT } from 'jose';
import { AccessDenied, createResourceServer, type ResourceServer, type ResourceServerOptions, type VerifiedAccess } from '../src/resource-server/index.js';
import { createReferenceServer, type ReferenceServer } from '../src/server/app.js';
import { loadFixtures } from '../src/server/fixtures.js';
import { createStore } from '../src/store/index.js';
import { connectRedis } from '../src/store/redis.js';
import { testKeys } from './helpers/keys.js';
import { deleteKeysWithPrefix, sharedRedisUrl } from './helpers/redis.js';
import { CONFIG_DIR, ORDERS, ORDERS_API, SUPPORT_CONSOLE, TEST_CLIENTS, impersonate, startTestServer, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

/**
 * The revocation feed (docs/resource-server.md, "The revocation feed"): two instances of one
 * provider (A and B, one issuer) on one Redis, and resource servers verifying JWTs locally, each
 * attached to one instance. What is revoked on either instance is refused by every one of them.
 */
const prefix = `feed:${randomUUID()}:`;
const CREDENTIALS = { clientId: ORDERS_API.id, clientSecret: ORDERS_API.secret };
let redisUrl: string;
let a: TestServer;
let b: { reference: ReferenceServer; http: Server; base: string };
let support: string;
const apis: ResourceServer[] = [];

function closeNow(server: Server): void {
  server.closeAllConnections();
  server.close();
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

beforeAll(async () => {
  redisUrl = await sharedRedisUrl();
  const { privateJwk } = await testKeys('feed-key', 'RS256');
  const jwks = { keys: [privateJwk] };
  a = await startTestServer({ store: createStore(await connectRedis(redisUrl), prefix), jwks });
  // Instance B: the same issuer, keys and store, another process port.
  const fixtures = await loadFixtures(CONFIG_DIR, a.issuer);
  const reference = await createReferenceServer({
    issuer: a.issuer,
    fixtures: { ...fixtures, clients: [...fixtures.clients, ...TEST_CLIENTS] },
    store: createStore(await connectRedis(redisUrl), prefix),
    jwks,
  });
  const http = createServer(reference.provider.callback());
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  b = { reference, http, base: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
  support = (await a.signIn('support')).access_token;
}, 30_000);

afterAll(async () => {
  for (const api of apis) api.close();
  await b.reference.close();
  b.http.closeAllConnections();
  await new Promise<void>((resolve) => b.http.close(() => resolve()));
  await a.close();
  await a.reference.exchange.store.close();
  await b.reference.exchange.store.close();
  deleteKeysWithPrefix(redisUrl, prefix);
});

/** A resource server verifying JWTs locally, its key set and feed taken from one provider instance. */
function attachedTo(base: string, options: Partial<ResourceServerOptions> = {}): ResourceServer {
  const api = createResourceServer({
    issuer: a.issuer,
    audience: ORDERS,
    mode: 'jwt',
    jwks: { uri: `${base}/jwks` },
    revocationFeed: { endpoint: `${base}/revocations`, ...CREDENTIALS },
    ...options,
  });
  apis.push(api);
  return api;
}

async function orderToken(): Promise<string> {
  const result = await a.exchange(impersonate(support, 'alice', { resource: ORDERS }));
  if (result.status !== 200) throw new Error(JSON.stringify(result.body));
  return result.body.access_token as string;
}

async function present(api: ResourceServer, token: string): Promise<VerifiedAccess | AccessDenied> {
  try {
    return await api.verifyRequest(new Request('https://api.example.test/orders', { headers: { authorization: `Bearer ${token}` } }));
  } catch (err) {
    if (err instanceof AccessDenied) return err;
    throw err;
  }
}

const accepted = { subject: 'alice', actor: 'support', token: { verifiedBy: 'jwt' } };
const revokedRefusal = (denied: unknown) => {
  expect(denied).toBeInstanceOf(AccessDenied);
  const { status, code } = denied as AccessDenied;
  return { status, code, body: (denied as AccessDenied).body() };
};
const REFUSED_REVOKED = { status: 401, code: 'token_revoked', body: { error: 'invalid_token', error_description: 'the access token is invalid, expired or revoked' } };

describe('the revocation feed across provider and API instances', () => {
  it('refuses a JWT revoked at instance A at a resource server attached to instance B, at its next poll', async () => {
    const onB = attachedTo(b.base);
    const onA = attachedTo(a.issuer);
    const token = await orderToken();
    expect(await present(onB, token)).toMatchObject(accepted);
    expect(await present(onA, token)).toMatchObject(accepted);

    expect((await a.post('/token/revocation', { token })).status).toBe(200);
    await onB.syncRevocations();
    await onA.syncRevocations();
    expect(revokedRefusal(await present(onB, token))).toEqual(REFUSED_REVOKED);
    expect(revokedRefusal(await present(onA, token))).toEqual(REFUSED_REVOKED);
  });

  it('refuses, on its own polling, a JWT whose impersonation was ended in bulk on instance B', async () => {
    const onA = attachedTo(a.issuer, { revocationFeed: { endpoint: `${a.issuer}/revocations`, ...CREDENTIALS, pollIntervalMs: 200 } });
    const token = await orderToken();
    expect(await present(onA, token)).toMatchObject(accepted);
    expect(await b.reference.exchange.revoke({ subject: 'alice' })).toBeGreaterThan(0);
    await until(async () => (await present(onA, token)) instanceof AccessDenied);
    expect(revokedRefusal(await present(onA, token))).toEqual(REFUSED_REVOKED);
  });

  it("refuses a user's own JWT from the authorization code flow once it is revoked", async () => {
    const api = attachedTo(b.base);
    const own = (await a.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid orders:read', ORDERS)).access_token;
    expect(await present(api, own)).toMatchObject({ subject: 'alice', actor: undefined, token: { verifiedBy: 'jwt' } });
    expect((await a.post('/token/revocation', { token: own })).status).toBe(200);
    await api.syncRevocations();
    expect(revokedRefusal(await present(api, own))).toEqual(REFUSED_REVOKED);
  });

  it('lets a resource server that starts later learn every live revocation', async () => {
    const token = await orderToken();
    expect((await a.post('/token/revocation', { token })).status).toBe(200);
    const late = attachedTo(b.base);
    expect(revokedRefusal(await present(late, token))).toEqual(REFUSED_REVOKED);
  });

  it('keeps accepting a valid JWT while the feed is fresh, and says so in its health', async () => {
    const api = attachedTo(b.base);
    const token = await orderToken();
    expect(await present(api, token)).toMatchObject(accepted);
    expect(api.health()).toMatchObject({ status: 'ok', revocationFeed: { state: 'fresh', whenStale: 'refuse', lastError: undefined } });
  });

  it('answers a signed list, for the authenticated resource server, with a cursor to go on from', async () => {
    const response = await fetch(`${b.base}/revocations`, { headers: { authorization: basic(ORDERS_API.id, ORDERS_API.secret) } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/jwt/);
    const jws = await response.text();
    expect(decodeProtectedHeader(jws)).toMatchObject({ typ: 'revocations+jwt', alg: 'RS256', kid: 'feed-key' });
    const payload = decodeJwt(jws);
    expect(payload).toMatchObject({ iss: a.issuer, aud: ORDERS_API.id, reset: true, more: false, cursor: expect.stringMatching(/^[\w-]+\.\d+$/) });
    expect((payload.revoked as unknown[]).length).toBeGreaterThan(0);
    const next = await fetch(`${b.base}/revocations?after=${String(payload.cursor)}`, { headers: { authorization: basic(ORDERS_API.id, ORDERS_API.secret) } });
    expect(decodeJwt(await next.text())).toMatchObject({ reset: false, revoked: [] });
  });

  it('lists only revocations of tokens for the audiences the resource server serves', async () => {
    const exp = Math.floor(Date.now() / 1000) + 60;
    await a.reference.exchange.store.revocations.publish([
      { jti: 'tx.elsewhere', exp, audience: ['https://elsewhere.example/api'] },
      { jti: 'tx.for-orders', exp, audience: [ORDERS] },
    ]);
    const response = await fetch(`${b.base}/revocations`, { headers: { authorization: basic(ORDERS_API.id, ORDERS_API.secret) } });
    const jtis = (decodeJwt(await response.text()).revoked as Array<{ jti: string }>).map((r) => r.jti);
    expect(jtis).toContain('tx.for-orders');
    expect(jtis).not.toContain('tx.elsewhere');
  });

  it('refuses the feed to a caller without client authentication (401 invalid_client)', async () => {
    const response = await fetch(`${b.base}/revocations`);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
  });

  it('refuses the feed to a client that is no resource server (403 unauthorized_client)', async () => {
    const response = await fetch(`${b.base}/revocations`, { headers: { authorization: basic(SUPPORT_CONSOLE.id, SUPPORT_CONSOLE.secret) } });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ error: 'unauthorized_client', error_description: 'this client is not a resource server of this provider' });
  });

  it('refuses a cursor the feed never gave out (400 invalid_request)', async () => {
    const response = await fetch(`${b.base}/revocations?after=not-a-cursor`, { headers: { authorization: basic(ORDERS_API.id, ORDERS_API.secret) } });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'invalid_request', error_description: 'after is not a cursor this feed gave out' });
  });
});

describe('a stale revocation feed', () => {
  /** A resource server whose feed cannot be reached (nothing listens there), on a clock the test moves. */
  function cutOff(whenStale: 'refuse' | 'introspect', clock: { now: number }): ResourceServer {
    return attachedTo(b.base, {
      mode: 'auto',
      introspection: CREDENTIALS,
      now: () => clock.now,
      revocationFeed: { endpoint: 'http://127.0.0.1:9/revocations', ...CREDENTIALS, maxStalenessSeconds: 5, whenStale, timeoutMs: 500 },
    });
  }

  it('refuses every JWT by default (fail closed: 503 temporarily_unavailable), and reports itself degraded', async () => {
    const clock = { now: Date.now() };
    const api = cutOff('refuse', clock);
    const token = await orderToken();
    const denied = await present(api, token);
    expect(denied).toBeInstanceOf(AccessDenied);
    expect({ status: (denied as AccessDenied).status, code: (denied as AccessDenied).code, body: (denied as AccessDenied).body(), challenges: (denied as AccessDenied).challenges }).toEqual({
      status: 503,
      code: 'revocations_unavailable',
      body: { error: 'temporarily_unavailable', error_description: 'the authorization server could not be reached; retry later' },
      challenges: [],
    });
    expect(api.health()).toMatchObject({ status: 'degraded', revocationFeed: { state: 'stale', lastSyncAt: undefined, whenStale: 'refuse', lastError: expect.any(String) } });
  });

  it("introspects instead when whenStale is 'introspect': a valid JWT passes, a revoked one is refused", async () => {
    const clock = { now: Date.now() };
    const api = cutOff('introspect', clock);
    const valid = await orderToken();
    const revoked = await orderToken();
    expect((await a.post('/token/revocation', { token: revoked })).status).toBe(200);
    expect(await present(api, valid)).toMatchObject({ subject: 'alice', token: { verifiedBy: 'introspection' } });
    const denied = await present(api, revoked);
    expect(denied).toBeInstanceOf(AccessDenied);
    expect((denied as AccessDenied).code).toBe('token_inactive');
    expect(api.health()).toMatchObject({ status: 'degraded', revocationFeed: { state: 'stale', whenStale: 'introspect' } });
  });

  it('takes no answer that the provider did not sign: the feed stays stale and JWTs are refused', async () => {
    const { privateJwk } = await testKeys('not-the-provider', 'RS256');
    const forged = await new SignJWT({ cursor: 'x.1', reset: true, more: false, revoked: [] })
      .setProtectedHeader({ alg: 'RS256', typ: 'revocations+jwt', kid: 'feed-key' })
      .setIssuer(a.issuer)
      .setAudience(ORDERS_API.id)
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(await importJWK(privateJwk, 'RS256'));
    const impostor = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/jwt' }).end(forged));
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    try {
      const api = attachedTo(b.base, { revocationFeed: { endpoint: `http://127.0.0.1:${(impostor.address() as AddressInfo).port}/revocations`, ...CREDENTIALS } });
      expect(await present(api, await orderToken())).toMatchObject({ status: 503, code: 'revocations_unavailable' });
      expect(api.health()).toMatchObject({ status: 'degraded', revocationFeed: { state: 'stale', lastError: 'Error: answer not verified: ERR_JWS_SIGNATURE_VERIFICATION_FAILED' } });
    } finally {
      closeNow(impostor);
    }
  });

  it('turns stale once its last answer is older than maxStalenessSeconds, and fresh again when the feed answers', async () => {
    const clock = { now: Date.now() };
    const api = attachedTo(b.base, { now: () => clock.now, revocationFeed: { endpoint: `${b.base}/revocations`, ...CREDENTIALS, maxStalenessSeconds: 5, pollIntervalMs: 10_000 } });
    const token = await orderToken();
    expect(await present(api, token)).toMatchObject(accepted);
    clock.now += 6000;
    expect(api.health()).toMatchObject({ status: 'degraded', revocationFeed: { state: 'stale' } });
    expect(await present(api, token)).toMatchObject({ code: 'revocations_unavailable', status: 503 });
    await api.syncRevocations();
    expect(api.health()).toMatchObject({ status: 'ok', revocationFeed: { state: 'fresh' } });
    expect(await present(api, token)).toMatchObject(accepted);
  });
});
