import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createStore, type Store } from '../src/store/index.js';
import { connectRedis } from '../src/store/redis.js';
import { BILLING, ORDERS_API, impersonate, startTestServer, type TestServer } from './helpers/server.js';
import { startRedisServer } from './helpers/redis.js';
import { until } from './helpers/until.js';

/** A Redis this test owns, stopped and started again under a running provider (docs/storage.md, When Redis is down). */
let redis: Awaited<ReturnType<typeof startRedisServer>>;
let store: Store;
let server: TestServer;

beforeAll(async () => {
  redis = await startRedisServer();
  store = createStore(await connectRedis(redis.url), `failure:${randomUUID()}:`);
  server = await startTestServer({ store });
}, 30_000);

afterAll(async () => {
  await server.close();
  await store.close();
  await redis.stop();
});

describe('Redis unreachable (docs/storage.md)', () => {
  it('issues nothing, never answers active, and recovers without a restart when Redis is back (the switch closed until an operator opens it)', async () => {
    const actor = (await server.signIn('support')).access_token;
    const before = await server.exchange(impersonate(actor, 'alice', { resource: BILLING }));
    expect(before.status).toBe(200);
    const token = before.body.access_token as string;

    await redis.stop();
    const issued = server.issuedCount();
    const mark = server.auditMark();
    const during = await server.exchange(impersonate(actor, 'alice', { resource: BILLING }));
    expect({ status: during.status, body: during.body }).toEqual({ status: 500, body: { error: 'server_error', error_description: 'oops! something went wrong' } });
    expect(server.issuedCount()).toBe(issued);
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'exchange.denied', outcome: 'error', rule: 'server_error' })]);
    const introspection = await server.post('/token/introspection', { token }, ORDERS_API);
    expect(introspection.body.active).not.toBe(true);
    expect(introspection.status).toBe(500);

    await redis.start();
    await until(async () => {
      await store.backend.ping();
      return true;
    });
    // Redis kept nothing on disk: the old sessions and tokens are gone, the provider works again —
    // except token exchange, which stays off after the store lost its data (docs/storage.md, When Redis is down).
    expect((await server.post('/token/introspection', { token }, ORDERS_API)).body).toEqual({ active: false });
    const again = (await server.signIn('support')).access_token;
    const closed = await server.exchange(impersonate(again, 'alice', { resource: BILLING }));
    expect(closed.body).toEqual({ error: 'unsupported_grant_type', error_description: 'token exchange is disabled' });
    await server.reference.exchange.setEnabled(true, { actor: 'admin' });
    const after = await server.exchange(impersonate(again, 'alice', { resource: BILLING }));
    expect(after.status).toBe(200);
    expect((await server.post('/token/introspection', { token: after.body.access_token as string }, ORDERS_API)).body.active).toBe(true);
  }, 30_000);
});
