import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createStore, type Store } from '../src/store/index.js';
import { connectRedis } from '../src/store/redis.js';
import { startRedisServer } from './helpers/redis.js';
import { expectRefusal } from './helpers/refusal.js';
import { BILLING, impersonate, startTestServer, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

/*
 * Issue 8, finding 3: an operator's "off" survives a Redis that lost its data; a store that came
 * back empty fails closed until an operator sets the switch again. A Redis of this file's own:
 * it is flushed and restarted empty.
 */

const PREFIX = 'switch:';
const DISABLED = { status: 400, error: 'unsupported_grant_type', description: 'token exchange is disabled', rule: 'impersonation_disabled' };
let redis: Awaited<ReturnType<typeof startRedisServer>>;
let stores: Store[];
let a: TestServer;
let b: TestServer;

async function restartEmpty(): Promise<void> {
  await redis.stop();
  await redis.start();
  await until(() => Promise.all(stores.map((store) => store.backend.ping())));
}

const exchangeOn = async (server: TestServer) => server.exchange(impersonate((await server.signIn('support')).access_token, 'alice', { resource: BILLING }));

beforeAll(async () => {
  redis = await startRedisServer();
  stores = [createStore(await connectRedis(redis.url), PREFIX), createStore(await connectRedis(redis.url), PREFIX)];
  a = await startTestServer({ store: stores[0]! });
  b = await startTestServer({ store: stores[1]! });
}, 30_000);

afterAll(async () => {
  await a.close();
  await b.close();
  for (const store of stores) await store.close();
  await redis.stop();
});

describe('the switch when Redis loses its data (docs/storage.md)', () => {
  it('keeps an operator\'s "off" after Redis restarts empty, on every instance', async () => {
    await a.reference.exchange.setEnabled(false, { actor: 'admin' });
    await restartEmpty();
    for (const server of [a, b]) {
      expect(await server.reference.exchange.isEnabled()).toBe(false);
      const token = (await server.signIn('support')).access_token;
      await expectRefusal(server, () => server.exchange(impersonate(token, 'alice', { resource: BILLING })), DISABLED);
    }
    await b.reference.exchange.setEnabled(true, { actor: 'admin' });
    expect((await exchangeOn(a)).status).toBe(200);
    expect((await exchangeOn(b)).status).toBe(200);
  }, 30_000);

  it('fails closed when the store comes back empty although nobody set the switch, until an operator sets it', async () => {
    const fresh = await startTestServer({ store: createStore(await connectRedis(redis.url), 'switch-fresh:') });
    try {
      expect((await exchangeOn(fresh)).status).toBe(200);
      const mark = fresh.auditMark();
      execFileSync('redis-cli', ['-u', redis.url, 'FLUSHALL']);
      expect(await fresh.reference.exchange.isEnabled()).toBe(false);
      expect(fresh.auditSince(mark)).toEqual([expect.objectContaining({ event: 'settings.changed', rule: 'impersonation_disabled_store_emptied' })]);
      const token = (await fresh.signIn('support')).access_token;
      await expectRefusal(fresh, () => fresh.exchange(impersonate(token, 'alice', { resource: BILLING })), DISABLED);
      await fresh.reference.exchange.setEnabled(true, { actor: 'admin' });
      expect((await fresh.exchange(impersonate(token, 'alice', { resource: BILLING }))).status).toBe(200);
    } finally {
      await fresh.close();
      await fresh.reference.exchange.store.close();
    }
  }, 30_000);

  it('keeps the switch off when its key alone is lost (evicted or deleted)', async () => {
    await a.reference.exchange.setEnabled(false, { actor: 'admin' });
    execFileSync('redis-cli', ['-u', redis.url, 'DEL', `${PREFIX}{settings}:impersonation-enabled`]);
    expect(await a.reference.exchange.isEnabled()).toBe(false);
    const token = (await a.signIn('support')).access_token;
    await expectRefusal(a, () => a.exchange(impersonate(token, 'alice', { resource: BILLING })), DISABLED);
    await a.reference.exchange.setEnabled(true, { actor: 'admin' });
  }, 30_000);
});
