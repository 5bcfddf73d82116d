import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { decodeJwt } from 'jose';
import type { AuditEvent } from '../src/audit/events.js';
import { ReceiptEmitter } from '../src/resource-server/receipts.js';
import type { VerifiedAccess } from '../src/resource-server/index.js';
import { createOrdersApi, type OrdersApi } from '../src/server/orders-api.js';
import { BILLING, ORDERS, ORDERS_API, SUPPORT_CONSOLE, impersonate, startTestServer, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';
import { HttpBrowser } from './helpers/http-browser.js';

let server: TestServer;
let support: string;
let api: OrdersApi;
let http: Server;
let apiUrl: string;

function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const s = createServer(handler);
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve({ server: s, url: `http://127.0.0.1:${(s.address() as AddressInfo).port}` })));
}

async function stop(s: Server): Promise<void> {
  s.closeAllConnections();
  await new Promise<void>((resolve) => s.close(() => resolve()));
}

beforeAll(async () => {
  server = await startTestServer({ policy: { rateLimit: false } });
  support = (await server.signIn('support')).access_token;
  api = createOrdersApi({ issuer: server.issuer, introspection: { clientId: ORDERS_API.id, clientSecret: ORDERS_API.secret }, receipts: { flushIntervalMs: 20 } });
  ({ server: http, url: apiUrl } = await listen(api.callback()));
});
afterAll(async () => {
  await api.resourceServer.close();
  await stop(http);
  await server.close();
});

const receiptsOf = (mark: number): AuditEvent[] => server.auditSince(mark).filter((r) => r.event === 'api.request');
const postReceipts = (receipts: unknown[], client: { id: string; secret: string } = ORDERS_API) =>
  fetch(`${server.issuer}/receipts`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ receipts }),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

describe('activity receipts: what was done while someone acted as alice', () => {
  it('records an impersonated request at the orders API as an api.request audit record', async () => {
    const mark = server.auditMark();
    const token = (await server.exchange(impersonate(support, 'alice', { resource: ORDERS }))).body.access_token as string;
    const read = await fetch(`${apiUrl}/orders?status=open`, { headers: { authorization: `Bearer ${token}` } });
    expect(read.status).toBe(200);
    await until(async () => receiptsOf(mark).length === 1);
    expect(receiptsOf(mark)[0]).toMatchObject({
      event: 'api.request',
      outcome: 'granted',
      actor: 'support',
      actors: ['support'],
      subject: 'alice',
      client_id: ORDERS_API.id,
      token_id: decodeJwt(token).jti,
      audience: [ORDERS],
      method: 'GET',
      path: '/orders',
      status: 200,
      at: expect.any(String),
    });
  });

  it('shows what was done under the impersonation on alice’s page', async () => {
    const page = await new HttpBrowser().navigate(`${server.issuer}/account/impersonations`, { until: () => false, login: { login: 'alice', password: 'demo-password' } });
    expect(page.html).toMatch(/<summary>What was done \(1 request\)<\/summary><ul class="plain"><li><span class="mono">GET \/orders<\/span> → 200 <span class="meta">https:\/\/api\.example\.test\/orders · support · /);
  });

  it('answers the receipts of a subject from the admin API', async () => {
    const admin = (await server.signIn('admin', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
    const response = await fetch(`${server.issuer}/admin/api/audit?event=api.request&subject=alice`, { headers: { authorization: `Bearer ${admin}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { records: AuditEvent[] };
    expect(body.records.length).toBeGreaterThan(0);
    expect(body.records.every((r) => r.event === 'api.request' && r.subject === 'alice')).toBe(true);
  });

  it('never records the user’s own requests', async () => {
    const own = (await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid orders:read', ORDERS)).access_token;
    const before = api.resourceServer.health().receipts!;
    const mark = server.auditMark();
    expect((await fetch(`${apiUrl}/orders`, { headers: { authorization: `Bearer ${own}` } })).status).toBe(200);
    await api.resourceServer.close();
    expect(api.resourceServer.health().receipts).toEqual(before);
    expect(receiptsOf(mark)).toEqual([]);
  });

  it('records an opaque token’s receipt by its digest, never its value', async () => {
    const mark = server.auditMark();
    const token = (await server.exchange(impersonate(support, 'alice', { resource: BILLING }))).body.access_token as string;
    const answer = await postReceipts([{ token, method: 'GET', path: '/invoices', status: 200, at: new Date().toISOString() }]);
    expect(answer).toEqual({ status: 200, body: { accepted: 1, refused: [] } });
    const [record] = receiptsOf(mark);
    expect(record).toMatchObject({ token_id: expect.stringMatching(/^sha256:/), audience: [BILLING], path: '/invoices' });
    expect(JSON.stringify(record)).not.toContain(token);
  });

  it('refuses a receipt for a token that was not issued to the reporting resource server', async () => {
    const mark = server.auditMark();
    const token = (await server.exchange(impersonate(support, 'alice', { scope: 'openid profile' }))).body.access_token as string;
    const answer = await postReceipts([{ token, method: 'GET', path: '/orders', status: 200, at: new Date().toISOString() }]);
    expect(answer).toEqual({ status: 200, body: { accepted: 0, refused: [{ index: 0, error: 'wrong_audience' }] } });
    expect(receiptsOf(mark)).toEqual([]);
  });

  it('refuses receipts from a client that is no resource server', async () => {
    const answer = await postReceipts([], { id: 'service-x', secret: 'service-x-secret' });
    expect(answer).toEqual({ status: 403, body: { error: 'unauthorized_client', error_description: 'this client is not a resource server of this provider' } });
  });

  it('refuses receipts without client authentication', async () => {
    const answer = await postReceipts([], { id: ORDERS_API.id, secret: 'wrong' });
    expect(answer).toEqual({ status: 401, body: { error: 'invalid_client', error_description: 'client authentication failed' } });
  });

  it('takes a batch of 500 receipts and refuses a larger one whole', async () => {
    const mark = server.auditMark();
    const malformed = { jti: 'tx.none', method: 'GET', path: 'no-slash', status: 200, at: new Date().toISOString() };
    const full = await postReceipts(Array.from({ length: 500 }, () => malformed));
    expect([full.status, full.body.accepted, (full.body.refused as unknown[]).length]).toEqual([200, 0, 500]);
    const larger = await postReceipts(Array.from({ length: 501 }, () => malformed));
    expect(larger).toEqual({ status: 413, body: { error: 'invalid_request', error_description: 'at most 500 receipts per batch' } });
    expect(receiptsOf(mark)).toEqual([]);
  });

  it('refuses a receipt for a request the user made themselves', async () => {
    const own = (await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid orders:read', BILLING)).access_token;
    const answer = await postReceipts([{ token: own, method: 'GET', path: '/invoices', status: 200, at: new Date().toISOString() }]);
    expect(answer).toEqual({ status: 200, body: { accepted: 0, refused: [{ index: 0, error: 'not_impersonated' }] } });
  });
});

describe('the toolkit never blocks nor fails a request for a receipt', () => {
  const access = { actorChain: [{ sub: 'support' }], token: { format: 'jwt', id: 'tx.1' } } as unknown as VerifiedAccess;

  it('answers API requests while the provider does not answer receipts, and counts what it loses', async () => {
    const { server: hanging, url } = await listen(() => undefined);
    const held = createOrdersApi({
      issuer: server.issuer,
      introspection: { clientId: ORDERS_API.id, clientSecret: ORDERS_API.secret },
      receipts: { endpoint: `${url}/receipts`, flushIntervalMs: 20, timeoutMs: 200 },
    });
    const { server: heldHttp, url: heldUrl } = await listen(held.callback());
    try {
      const token = (await server.exchange(impersonate(support, 'alice', { resource: ORDERS }))).body.access_token as string;
      for (let i = 0; i < 3; i += 1) expect((await fetch(`${heldUrl}/orders`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      await until(async () => held.resourceServer.health().receipts!.failed === 3);
      expect(held.resourceServer.health().receipts).toEqual({ queued: 0, sent: 0, dropped: 0, failed: 3 });
    } finally {
      await held.resourceServer.close();
      await stop(heldHttp);
      await stop(hanging);
    }
  });

  it('sends a full batch at once and keeps a partial one for its timer, over one connection it closes', async () => {
    const batches: number[] = [];
    const sockets = new Set<Socket>();
    const { server: provider, url } = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const { receipts } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { receipts: unknown[] };
        batches.push(receipts.length);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ accepted: receipts.length, refused: [] }));
      });
    });
    provider.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    const emitter = new ReceiptEmitter({ endpoint: async () => `${url}/receipts`, clientId: 'c', clientSecret: 's', batchSize: 3, flushIntervalMs: 60_000, maxQueue: 100, timeoutMs: 1000 });
    try {
      for (let i = 0; i < 7; i += 1) emitter.record(access, { method: 'GET', url: 'http://api.test/orders', status: 200 });
      await until(async () => emitter.stats().sent === 6);
      expect([batches, emitter.stats()]).toEqual([[3, 3], { queued: 1, sent: 6, dropped: 0, failed: 0 }]);
      await emitter.close();
      expect([batches, emitter.stats()]).toEqual([[3, 3, 1], { queued: 0, sent: 7, dropped: 0, failed: 0 }]);
      await until(async () => sockets.size === 0);
    } finally {
      await stop(provider);
    }
  });

  it('counts a batch lost when the provider stops answering halfway, and goes on', async () => {
    const { server: stalling, url } = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"accepted":');
    });
    const emitter = new ReceiptEmitter({ endpoint: async () => `${url}/receipts`, clientId: 'c', clientSecret: 's', batchSize: 2, flushIntervalMs: 60_000, maxQueue: 100, timeoutMs: 200 });
    try {
      for (let i = 0; i < 3; i += 1) emitter.record(access, { method: 'GET', url: 'http://api.test/orders', status: 200 });
      await emitter.close();
      expect(emitter.stats()).toEqual({ queued: 0, sent: 0, dropped: 0, failed: 3 });
    } finally {
      await stop(stalling);
    }
  });

  it('drops receipts beyond its bounded queue, and counts the drops', () => {
    const emitter = new ReceiptEmitter({ endpoint: async () => 'http://127.0.0.1:9/receipts', clientId: 'c', clientSecret: 's', batchSize: 100, flushIntervalMs: 60_000, maxQueue: 2, timeoutMs: 100 });
    for (let i = 0; i < 5; i += 1) emitter.record(access, { method: 'GET', url: 'http://api.test/orders?x=1', status: 200 });
    expect(emitter.stats()).toEqual({ queued: 2, sent: 0, dropped: 3, failed: 0 });
    return emitter.close();
  });
});
