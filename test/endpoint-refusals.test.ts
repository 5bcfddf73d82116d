import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { deflateSync, gzipSync } from 'node:zlib';
import { createStore, type Store } from '../src/store/index.js';
import { connectRedis, type RedisBackend } from '../src/store/redis.js';
import { captureLogs } from './helpers/logs.js';
import { deleteKeysWithPrefix, sharedRedisUrl, startRedisServer } from './helpers/redis.js';
import { expectRefusal } from './helpers/refusal.js';
import { BILLING, ORDERS, ORDERS_API, REASON, SUPPORT_CONSOLE, TOKEN_EXCHANGE_GRANT, impersonate, startTestServer, type HttpResult, type TestServer } from './helpers/server.js';

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

describe('token-exchange bodies oidc-provider cannot read (RFC 6749 §3.2: a form, not encoded)', () => {
  const form = () => new URLSearchParams({ grant_type: TOKEN_EXCHANGE_GRANT, ...(impersonate(actor, 'alice') as Record<string, string>) }).toString();
  const ENCODED = 'request bodies with a Content-Encoding are not supported; send the form uncompressed';

  const codings: [string, (body: string) => Buffer][] = [
    ['gzip', (body) => gzipSync(body)],
    ['deflate', (body) => deflateSync(body)],
  ];
  it.each(codings)('refuses and audits a token-exchange request whose body is %s-encoded', async (encoding, encode) => {
    const { record } = await expectRefusal(
      server,
      () => raw(server, '/token', { method: 'POST', headers: { authorization: basic(SUPPORT_CONSOLE), 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': encoding }, body: encode(form()) }),
      { status: 400, error: 'invalid_request', description: ENCODED, rule: 'request_malformed' },
    );
    expect(record).toMatchObject({ client_id: SUPPORT_CONSOLE.id, reason: REASON });
    expect(JSON.stringify(record)).not.toContain(actor);
  });

  it('refuses a request whose body claims an encoding it does not have, even a readable form', async () => {
    const { record } = await expectRefusal(
      server,
      () => raw(server, '/token', { method: 'POST', headers: { authorization: basic(SUPPORT_CONSOLE), 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, body: form() }),
      { status: 400, error: 'invalid_request', description: ENCODED, rule: 'request_malformed' },
    );
    expect(record).toMatchObject({ client_id: SUPPORT_CONSOLE.id });
  });

  it('answers a corrupt or oversized content-coded body 400, never 500, and records nothing it cannot read', async () => {
    const bomb = gzipSync(`grant_type=${encodeURIComponent(TOKEN_EXCHANGE_GRANT)}&reason=${'a'.repeat(10_000_000)}`);
    for (const body of [Buffer.from('not gzip at all, \u0000\u00ff'), gzipSync(form()).subarray(0, 40), bomb]) {
      const mark = server.auditMark();
      const result = await raw(server, '/token', { method: 'POST', headers: { authorization: basic(SUPPORT_CONSOLE), 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, body });
      expect({ status: result.status, body: result.body }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: ENCODED } });
      expect(server.auditSince(mark)).toEqual([]);
    }
  });

  it('refuses and audits a token-exchange request sent as multipart/form-data', async () => {
    const body = new FormData();
    for (const [name, value] of new URLSearchParams(form())) body.append(name, value);
    const { record } = await expectRefusal(
      server,
      () => raw(server, '/token', { method: 'POST', headers: { authorization: basic(SUPPORT_CONSOLE) }, body }),
      { status: 400, error: 'invalid_request', description: 'only application/x-www-form-urlencoded content-type bodies are supported on POST /token', rule: 'request_malformed' },
    );
    expect(record).toMatchObject({ client_id: SUPPORT_CONSOLE.id, reason: REASON });
    expect(JSON.stringify(record)).not.toContain(actor);
  });
});

describe('wrong client authentication, per address, at every endpoint (docs/policy.md "Rate limits")', () => {
  const UNAUTHENTICATED = { error: 'invalid_request', error_description: 'too many unauthenticated requests from this address; retry later' };
  let local: TestServer;

  beforeAll(async () => {
    local = await startTestServer({ policy: { unauthenticatedRateLimit: { points: 3, durationSeconds: 60 } } });
  });
  afterAll(() => local.close());

  /** A request from another loopback address than the tests' own (127.0.0.1): the limit is per address. */
  function requestFrom(localAddress: string, method: 'GET' | 'POST', path: string, client: { id: string; secret: string }, body?: { type: string; text: string }): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(new URL(path, local.issuer), {
        method,
        localAddress,
        headers: { authorization: basic(client), ...(body ? { 'content-type': body.type, 'content-length': Buffer.byteLength(body.text) } : {}) },
      });
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') headers.set(name, value);
          const text = Buffer.concat(chunks).toString('utf8');
          const json = String(response.headers['content-type']).startsWith('application/json');
          resolve({ status: response.statusCode!, headers, body: json && text ? (JSON.parse(text) as Record<string, unknown>) : {} });
        });
      });
      request.on('error', reject);
      request.end(body?.text);
    });
  }

  const postFrom = (localAddress: string, path: string, params: Record<string, string>, client: { id: string; secret: string }) =>
    requestFrom(localAddress, 'POST', path, client, { type: 'application/x-www-form-urlencoded', text: new URLSearchParams(params).toString() });

  /** Three wrong secrets answered 401, then the wrong and the right secret from that address alike: 429 with Retry-After. */
  async function expectShutOut(call: (client: { id: string; secret: string }) => Promise<HttpResult>, right: { id: string; secret: string }): Promise<void> {
    const wrong = { id: right.id, secret: 'wrong' };
    for (let i = 0; i < 3; i += 1) {
      const refused = await call(wrong);
      expect({ status: refused.status, body: refused.body }).toEqual({ status: 401, body: { error: 'invalid_client', error_description: 'client authentication failed' } });
    }
    for (const client of [wrong, right]) {
      const limited = await call(client);
      expect({ status: limited.status, body: limited.body }).toEqual({ status: 429, body: UNAUTHENTICATED });
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(limited.headers.get('www-authenticate')).toBeNull();
      expect(limited.headers.get('cache-control')).toBe('no-store');
    }
  }

  it.each([
    ['/token/introspection', { token: 'anything' }, '127.0.0.2'],
    ['/token/revocation', { token: 'anything' }, '127.0.0.3'],
    ['/token', { grant_type: 'client_credentials' }, '127.0.0.4'],
  ])('refuses %s 429 with Retry-After once an address spent its budget of wrong client secrets, the right secret from it too; another client from that address and another address are unaffected', async (path, params, address) => {
    await expectShutOut((client) => postFrom(address, path, params, client), SERVICE_X);
    expect((await local.post(path, params, SERVICE_X)).status).toBe(200);
    const neighbour = await postFrom(address, path, params, ORDERS_API);
    expect(neighbour.status).not.toBe(429);
    expect(neighbour.status).toBe((await local.post(path, params, ORDERS_API)).status);
  });

  it.each<['GET' | 'POST', string, string]>([
    ['POST', '/receipts', '127.0.0.5'],
    ['GET', '/revocations', '127.0.0.6'],
  ])('refuses %s %s 429 with Retry-After once an address spent its budget of wrong resource-server secrets, the right secret from it too; another client from that address and another address are unaffected', async (method, path, address) => {
    const body = method === 'POST' ? { type: 'application/json', text: JSON.stringify({ receipts: [] }) } : undefined;
    const callFrom = (from: string, client: { id: string; secret: string }) => requestFrom(from, method, path, client, body);
    await expectShutOut((client) => callFrom(address, client), ORDERS_API);
    expect((await callFrom('127.0.0.1', ORDERS_API)).status).toBe(200);
    const neighbour = await callFrom(address, SERVICE_X);
    expect({ status: neighbour.status, body: neighbour.body }).toEqual({ status: 403, body: { error: 'unauthorized_client', error_description: 'this client is not a resource server of this provider' } });
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
