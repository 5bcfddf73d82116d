import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BILLING, ORDERS_API, SUPPORT_CONSOLE, impersonate, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let adminToken: string;
let support: string;

beforeAll(async () => {
  server = await startTestServer();
  adminToken = (await server.signIn('admin', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
  support = (await server.signIn('support')).access_token;
});
afterAll(() => server.close());

async function api(method: string, path: string, token: string | undefined, body?: unknown) {
  const response = await fetch(`${server.issuer}/admin/api${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

describe('admin API (docs/introspection-revocation.md, docs/admin-console.md)', () => {
  it('lists live impersonations, filtered by actor or subject', async () => {
    await server.exchange(impersonate(support, 'alice', { resource: BILLING }));
    await server.exchange(impersonate(support, 'bob', { resource: BILLING }));
    const all = await api('GET', '/impersonations', adminToken);
    expect(all.status).toBe(200);
    expect(all.headers.get('cache-control')).toBe('no-store');
    const list = all.body.impersonations as Array<Record<string, unknown>>;
    expect(list.map((i) => i.subject).sort()).toEqual(['alice', 'bob']);
    expect(list[0]).toMatchObject({ actors: ['support'], clientId: SUPPORT_CONSOLE.id, reason: expect.any(String), tokenId: expect.stringMatching(/^sha256:/) });
    const alice = await api('GET', '/impersonations?subject=alice', adminToken);
    expect((alice.body.impersonations as unknown[]).length).toBe(1);
  });

  it('revokes in bulk by actor and says how many', async () => {
    const token = (await server.exchange(impersonate(support, 'alice', { resource: BILLING }))).body.access_token as string;
    const result = await api('POST', '/revocations', adminToken, { actor: 'support' });
    expect(result.status).toBe(200);
    expect(result.body.revoked).toBeGreaterThanOrEqual(1);
    expect((await server.post('/token/introspection', { token }, ORDERS_API)).body).toEqual({ active: false });
    expect(server.audit.records().filter((r) => r.event === 'token.revoked').every((r) => r.actor === 'admin')).toBe(true);
  });

  it('reads and flips the global switch', async () => {
    expect((await api('GET', '/settings', adminToken)).body).toEqual({ enabled: true });
    const token = (await server.exchange(impersonate(support, 'alice', { resource: BILLING }))).body.access_token as string;
    expect((await api('PUT', '/settings', adminToken, { enabled: false })).body).toEqual({ enabled: false, revoked: 1 });
    expect((await server.post('/token/introspection', { token }, ORDERS_API)).body).toEqual({ active: false });
    expect((await api('PUT', '/settings', adminToken, { enabled: true })).body).toEqual({ enabled: true, revoked: 0 });
  });

  it('refuses a request without a bearer token with 401 invalid_token', async () => {
    const result = await api('GET', '/impersonations', undefined);
    expect(result).toMatchObject({ status: 401, body: { error: 'invalid_token', error_description: 'a bearer access token is required' } });
    expect(result.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });

  it('refuses a token without impersonation:admin with 403 insufficient_scope', async () => {
    const result = await api('GET', '/impersonations', support);
    expect(result).toMatchObject({ status: 403, body: { error: 'insufficient_scope', error_description: 'the access token needs the impersonation:admin scope' } });
    expect(result.headers.get('www-authenticate')).toContain('scope="impersonation:admin"');
  });

  it('refuses an account that may not impersonate, even with the scope', async () => {
    const alice = (await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
    const result = await api('GET', '/impersonations', alice);
    expect(result).toMatchObject({ status: 403, body: { error: 'insufficient_scope', error_description: 'this account may not administer impersonation' } });
  });

  it('refuses a revoked token', async () => {
    const token = (await server.signIn('admin', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
    await server.post('/token/revocation', { token }, SUPPORT_CONSOLE);
    expect((await api('GET', '/settings', token)).status).toBe(401);
  });

  it('refuses a malformed revocation body with 400', async () => {
    expect(await api('POST', '/revocations', adminToken, { actor: 'support', subject: 'alice' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', error_description: expect.stringMatching(/^give exactly one of actor, subject or all: true/) },
    });
    expect((await api('POST', '/revocations', adminToken, '{not json')).status).toBe(400);
  });
});

describe('admin API: the audit trail (docs/audit.md)', () => {
  it('lists records newest first, filtered, with a cursor to the next page', async () => {
    const local = await startTestServer();
    try {
      const admin = (await local.signIn('admin', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
      const actor = (await local.signIn('support')).access_token;
      for (const subject of ['alice', 'bob', 'alice']) await local.exchange(impersonate(actor, subject, { resource: BILLING }));
      await local.exchange(impersonate(actor, 'root'));
      const get = async (query: string) => {
        const response = await fetch(`${local.issuer}/admin/api/audit?${query}`, { headers: { authorization: `Bearer ${admin}` } });
        return { status: response.status, body: (await response.json()) as { records: Array<Record<string, unknown>>; next_cursor?: string; error?: string } };
      };
      const first = await get('actor=support&event=exchange.granted&limit=2');
      expect(first.status).toBe(200);
      expect(first.body.records.map((r) => r.subject)).toEqual(['alice', 'bob']);
      expect(first.body.records[0]).toMatchObject({ hash: expect.any(String), prev_hash: expect.any(String) });
      const second = await get(`actor=support&event=exchange.granted&limit=2&cursor=${first.body.next_cursor}`);
      expect(second.body.records.map((r) => r.subject)).toEqual(['alice']);
      expect((await get('outcome=denied')).body.records.map((r) => r.rule)).toEqual(['subject_protected']);
      expect((await get(`since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body.records).toEqual([]);
      expect((await get('outcome=maybe')).status).toBe(400);
    } finally {
      await local.close();
    }
  });
});
