import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { createStore } from '../src/store/index.js';
import { connectRedis } from '../src/store/redis.js';
import { verifyWebhook } from '../src/webhooks/signature.js';
import { backoffMs } from '../src/webhooks/dispatcher.js';
import { startReceiver } from './helpers/receiver.js';
import { deleteKeysWithPrefix, sharedRedisUrl } from './helpers/redis.js';
import { BILLING, impersonate, startTestServer, type TestServer } from './helpers/server.js';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const FAST = { pollIntervalMs: 20, baseDelayMs: 60, maxDelayMs: 1000, timeoutMs: 2000, leaseMs: 5000 };
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serverWithReceiver(receiver: { url: string }, settings: Record<string, unknown> = {}, extra: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const server = await startTestServer({ webhooks: { endpoints: [{ url: receiver.url, secret: SECRET }], ...FAST, ...settings }, ...extra });
  cleanups.push(() => server.close());
  return server;
}

describe('webhooks (Standard Webhooks, docs/audit.md)', () => {
  it('delivers impersonation.started signed with the endpoint secret', async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const server = await serverWithReceiver(receiver);
    const actor = (await server.signIn('support')).access_token;
    const issued = await server.exchange(impersonate(actor, 'alice', { resource: BILLING }));
    await receiver.received(1);
    const [delivery] = receiver.deliveries;
    expect(verifyWebhook(SECRET, delivery!.headers as Record<string, string>, delivery!.body)).toBe(true);
    expect(delivery!.headers['webhook-id']).toMatch(/^msg_/);
    const payload = JSON.parse(delivery!.body);
    expect(payload).toMatchObject({ type: 'impersonation.started', data: { event: 'exchange.granted', actor: 'support', subject: 'alice', client_id: 'support-console' } });
    expect(payload.data.ip).toBeUndefined();
    expect(delivery!.body).not.toContain(issued.body.access_token as string);
    expect(delivery!.body).not.toContain(actor);
    expect(verifyWebhook(`whsec_${randomBytes(24).toString('base64')}`, delivery!.headers as Record<string, string>, delivery!.body)).toBe(false);
    expect(verifyWebhook(SECRET, delivery!.headers as Record<string, string>, delivery!.body.replace('alice', 'bob'))).toBe(false);
  });

  it('delivers impersonation.denied and impersonation.ended', async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const server = await serverWithReceiver(receiver);
    const actor = (await server.signIn('support')).access_token;
    await server.exchange(impersonate(actor, 'root'));
    await server.exchange(impersonate(actor, 'alice', { resource: BILLING }));
    await server.reference.exchange.revoke({ actor: 'support' });
    await receiver.received(3);
    const types = receiver.deliveries.map((d) => JSON.parse(d.body).type).sort();
    expect(types).toEqual(['impersonation.denied', 'impersonation.ended', 'impersonation.started']);
    const denied = receiver.deliveries.map((d) => JSON.parse(d.body)).find((p) => p.type === 'impersonation.denied');
    expect(denied.data).toMatchObject({ outcome: 'denied', rule: 'subject_protected', subject: 'root' });
  });

  it('answers the token request while the receiver is still holding its delivery', async () => {
    const receiver = await startReceiver({ hold: true });
    cleanups.push(async () => (receiver.release(), receiver.close()));
    const server = await serverWithReceiver(receiver);
    const actor = (await server.signIn('support')).access_token;
    const first = await server.exchange(impersonate(actor, 'alice', { resource: BILLING }));
    await receiver.received(1);
    const second = await server.exchange(impersonate(actor, 'bob', { resource: BILLING }));
    expect([first.status, second.status]).toEqual([200, 200]);
    receiver.release();
  });

  it('retries with exponential back-off under the same webhook-id until delivered', async () => {
    const receiver = await startReceiver({ statuses: [500, 503] });
    cleanups.push(receiver.close);
    const server = await serverWithReceiver(receiver);
    const actor = (await server.signIn('support')).access_token;
    await server.exchange(impersonate(actor, 'alice', { resource: BILLING }));
    await receiver.received(3);
    const [a, b, c] = receiver.deliveries;
    expect(new Set([a, b, c].map((d) => d!.headers['webhook-id'])).size).toBe(1);
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(FAST.baseDelayMs);
    expect(c!.at - b!.at).toBeGreaterThanOrEqual(2 * FAST.baseDelayMs);
    expect(await server.reference.exchange.auditLog!.deadLetters()).toEqual([]);
  });

  it('gives up after maxAttempts, keeps the failure and counts it', async () => {
    const receiver = await startReceiver({ statuses: [500, 500, 500, 500] });
    cleanups.push(receiver.close);
    const server = await serverWithReceiver(receiver, { maxAttempts: 3 });
    const actor = (await server.signIn('support')).access_token;
    await server.exchange(impersonate(actor, 'alice', { resource: BILLING }));
    await receiver.received(3);
    let dead: Array<{ reason: string; attempts: number }> = [];
    for (let i = 0; i < 100 && dead.length === 0; i += 1) {
      dead = await server.reference.exchange.auditLog!.deadLetters();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(dead).toEqual([expect.objectContaining({ reason: 'HTTP 500', attempts: 3 })]);
    expect(await server.reference.exchange.metrics.registry.getSingleMetricAsString('webhook_delivery_failures_total')).toMatch(/webhook_delivery_failures_total 1$/m);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.deliveries).toHaveLength(3);
  });

  it('survives a restart of the provider mid-retry: the outbox is in Redis', async () => {
    const url = await sharedRedisUrl();
    const prefix = `webhooks:${randomUUID()}:`;
    cleanups.push(async () => deleteKeysWithPrefix(url, prefix));
    const receiver = await startReceiver({ statuses: [500] });
    cleanups.push(receiver.close);
    const backendA = await connectRedis(url);
    const first = await startTestServer({
      store: createStore(backendA, prefix),
      auditLog: backendA.auditLog(prefix),
      webhooks: { endpoints: [{ url: receiver.url, secret: SECRET }], ...FAST, baseDelayMs: 500 },
    });
    const actor = (await first.signIn('support')).access_token;
    await first.exchange(impersonate(actor, 'alice', { resource: BILLING }));
    await receiver.received(1);
    await first.close();
    await backendA.close();

    const backendB = await connectRedis(url);
    cleanups.push(() => backendB.close());
    const second = await startTestServer({
      store: createStore(backendB, prefix),
      auditLog: backendB.auditLog(prefix),
      webhooks: { endpoints: [{ url: receiver.url, secret: SECRET }], ...FAST },
    });
    cleanups.push(() => second.close());
    await receiver.received(2);
    expect(receiver.deliveries[1]!.headers['webhook-id']).toBe(receiver.deliveries[0]!.headers['webhook-id']);
    expect(verifyWebhook(SECRET, receiver.deliveries[1]!.headers as Record<string, string>, receiver.deliveries[1]!.body)).toBe(true);
  });
});

describe('back-off', () => {
  it('doubles from the base, caps at the maximum, adds at most 20 % jitter', () => {
    const settings = { baseDelayMs: 1000, maxDelayMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, settings, () => 0))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(backoffMs(1, settings, () => 1)).toBe(1200);
  });
});
