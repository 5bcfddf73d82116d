import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createStore, type Store } from '../src/store/index.js';
import { connectRedis, type RedisBackend } from '../src/store/redis.js';
import { captureLogs } from './helpers/logs.js';
import { deleteKeysWithPrefix, sharedRedisUrl, startRedisServer } from './helpers/redis.js';
import { expectRefusal } from './helpers/refusal.js';
import { BILLING, ORDERS, ORDERS_API, SUPPORT_CONSOLE, TOKEN_EXCHANGE_GRANT, impersonate, startTestServer, type HttpResult, type TestServer } from './helpers/server.js';

/*
 * Issue 8, findings 6 and 8: refusals that went unaudited or said the wrong thing, and the
 * per-client limit of the introspection and revocation endpoints.
 */

const SERVICE_X = { id: 'service-x', secret: 'service-x-secret' };
const basic = (client: { id: string; secret: string }) => `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;

let url: string;
const prefix = `refusals:${randomUUID()}:`;
let backend: RedisBackend;
let server: TestServer;
let actor: string;
let admin: string;

beforeAll(async () => {
  url = await sharedRedisUrl();
  backend = await connectRedis(url);
  server = await startTestServer({ store: createStore(backend, prefix), auditLog: backend.auditLog(prefix) });
  actor = (await server.signIn('support')).access_token;
  admin = (await server.signIn('admin', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
});
afterAll(async () => {
  await server.close();
  await backend.close();
  deleteKeysWithPrefix(url, prefix);
});

async function raw(target: TestServer, path: string, init: RequestInit): Promise<HttpResult> {
  const response = await fetch(new URL(path, target.issuer), init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function adminGet(query: string) {
  return raw(server, `/admin/api${query}`, { headers: { authorization: `Bearer ${admin}` } });
}

describe('token-endpoint refusals oidc-provider makes before the grant (finding 6)', () => {
  it('audits a token-exchange request that gives grant_type twice', async () => {
    await expectRefusal(server, () => server.post('/token', { grant_type: [TOKEN_EXCHANGE_GRANT, TOKEN_EXCHANGE_GRANT], ...impersonate(actor, 'alice') }), {
      status: 400,
      error: 'invalid_request',
      description: "'grant_type' parameter must not be provided twice",
      rule: 'parameter_duplicated',
    });
  });

  it('audits a token-exchange request sent as JSON', async () => {
    const body = JSON.stringify({ grant_type: TOKEN_EXCHANGE_GRANT, ...impersonate(actor, 'alice') });
    const { record } = await expectRefusal(
      server,
      () => raw(server, '/token', { method: 'POST', headers: { authorization: basic(SUPPORT_CONSOLE), 'content-type': 'application/json' }, body }),
      { status: 400, error: 'invalid_request', description: 'only application/x-www-form-urlencoded content-type bodies are supported on POST /token', rule: 'request_malformed' },
    );
    expect(JSON.stringify(record)).not.toContain(actor);
  });
});

describe('admin API queries (finding 6)', () => {
  it('answers 400, not 500, to an audit cursor the log never gave out', async () => {
    for (const cursor of ['abc', '99999999999999999999-1', '1-2-3']) {
      expect(await adminGet(`/audit?cursor=${cursor}`)).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: 'audit query: not a cursor of this audit log' } });
    }
    expect(await adminGet('/audit?cursor=0-0')).toMatchObject({ status: 200, body: { records: [] } });
  });

  it('refuses a filter given twice instead of ignoring it', async () => {
    await server.exchange(impersonate(actor, 'alice', { resource: BILLING }));
    const impersonations = await adminGet('/impersonations?actor=support&actor=admin');
    expect(impersonations.status).toBe(400);
    expect(impersonations.body).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/^impersonations query: /) });
    expect((await adminGet('/audit?actor=support&actor=admin')).status).toBe(400);
    expect((await adminGet('/impersonations?actor=support')).status).toBe(200);
  });
});

describe('introspection and revocation refusals (finding 6)', () => {
  it.each(['/token/introspection', '/token/revocation'])('answers %s without client authentication with invalid_client (RFC 6749 §5.2)', async (path) => {
    const result = await server.post(path, { token: 'anything' }, null);
    expect({ status: result.status, body: result.body }).toEqual({ status: 400, body: { error: 'invalid_client', error_description: 'client authentication is required' } });
    expect(result.headers.get('www-authenticate')).toBeNull();
  });

  it('answers JWT introspection with a JSON server_error while Redis is down, and logs the status the client got', async () => {
    const redis = await startRedisServer();
    const logs = captureLogs();
    const own = await connectRedis(redis.url);
    const local = await startTestServer({ store: createStore(own, 'down:'), logger: logs.logger });
    try {
      const token = (await local.exchange(impersonate((await local.signIn('support')).access_token, 'alice', { resource: ORDERS }))).body.access_token as string;
      await redis.stop();
      const mark = logs.lines.length;
      const result = await local.post('/token/introspection', { token }, ORDERS_API);
      expect({ status: result.status, body: result.body }).toEqual({ status: 500, body: { error: 'server_error', error_description: 'oops! something went wrong' } });
      const lines = logs.lines.slice(mark).map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines).toContainEqual(expect.objectContaining({ msg: 'request', path: '/token/introspection', status: 500 }));
      expect(lines).toContainEqual(expect.objectContaining({ msg: 'introspection or revocation failed', err: expect.objectContaining({ name: expect.any(String) }) }));
      expect(JSON.stringify(lines)).not.toMatch(/\n\s+at /);
    } finally {
      await local.close();
      await own.close();
      await redis.stop();
    }
  }, 30_000);
});

describe('per-client limits of introspection and revocation (finding 8)', () => {
  let a: TestServer;
  let b: TestServer;
  const limitPrefix = `limits:${randomUUID()}:`;
  const backends: RedisBackend[] = [];
  let stores: Store[];

  beforeAll(async () => {
    for (let i = 0; i < 2; i += 1) backends.push(await connectRedis(url));
    stores = backends.map((each) => createStore(each, limitPrefix));
    const policy = { clientRateLimit: { points: 3, durationSeconds: 60 } };
    a = await startTestServer({ store: stores[0]!, policy });
    b = await startTestServer({ store: stores[1]!, policy });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    for (const each of backends) await each.close();
    deleteKeysWithPrefix(url, limitPrefix);
  });

  const TOO_MANY = (endpoint: string) => ({ status: 429, body: { error: 'invalid_request', error_description: `too many ${endpoint} requests by this client; retry later` } });

  it('answers 429 with Retry-After once a client spends its introspection budget, counted across instances', async () => {
    for (let i = 0; i < 5; i += 1) expect((await a.post('/token/introspection', { token: `probe-${i}` }, { id: ORDERS_API.id, secret: 'wrong' })).status).toBe(401);
    for (const target of [a, b, a]) expect((await target.post('/token/introspection', { token: randomUUID() }, ORDERS_API)).body).toEqual({ active: false });
    const refused = await b.post('/token/introspection', { token: randomUUID() }, ORDERS_API);
    expect({ status: refused.status, body: refused.body }).toEqual(TOO_MANY('introspection'));
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await a.post('/token/introspection', { token: randomUUID() }, SERVICE_X)).status).toBe(200);
  });

  it('answers 429 with Retry-After once a client spends its revocation budget, counted apart from introspection', async () => {
    for (const target of [b, a, b]) expect((await target.post('/token/revocation', { token: randomUUID() }, SERVICE_X)).status).toBe(200);
    const refused = await a.post('/token/revocation', { token: randomUUID() }, SERVICE_X);
    expect({ status: refused.status, body: refused.body }).toEqual(TOO_MANY('revocation'));
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
