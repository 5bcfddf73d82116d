import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { createStore } from '../src/store/index.js';
import { connectRedis, connectRedisCluster } from '../src/store/redis.js';
import { HttpBrowser } from './helpers/http-browser.js';
import { deleteKeysWithPrefix, sharedRedisUrl, startRedisCluster } from './helpers/redis.js';
import { REASON, SUPPORT_CONSOLE, startTestServer, type TestServer } from './helpers/server.js';

/*
 * docs/browser-impersonation.md §1: of N concurrent redemptions of one ticket exactly one succeeds, on every store — the
 * ticket is consumed by the backend's one atomic operation (the one that makes codes single-use).
 */

const DEMO_APP = { id: 'demo-app', secret: 'demo-app-secret', redirectUri: 'http://localhost:3001/callback' };
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function concurrentRedemptions(server: TestServer, n: number): Promise<{ codes: number; denied: number }> {
  const admin = (await server.signIn('support', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
  const minted = await fetch(`${server.issuer}/admin/api/tickets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject: 'alice', client_id: DEMO_APP.id, reason: REASON }),
  });
  const { ticket } = (await minted.json()) as { ticket: string };
  const config = await server.clientConfig(DEMO_APP.id, DEMO_APP.secret);
  const challenge = await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier());
  // Every browser first reaches the extension's interaction page, then all redeem at once.
  const started = await Promise.all(
    Array.from({ length: n }, async () => {
      const browser = new HttpBrowser();
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: DEMO_APP.redirectUri, scope: 'openid', state: 's', login_hint: ticket, code_challenge: challenge, code_challenge_method: 'S256' });
      const interaction = await browser.navigate(url, { until: (u) => u.pathname.startsWith('/impersonation/interaction/') });
      return { browser, interaction: interaction.url };
    }),
  );
  const ends = await Promise.all(started.map(({ browser, interaction }) => browser.navigate(interaction, { until: (u) => u.href.startsWith(DEMO_APP.redirectUri) })));
  return {
    codes: ends.filter((end) => end.url.searchParams.get('code')).length,
    denied: ends.filter((end) => end.url.searchParams.get('error') === 'access_denied').length,
  };
}

describe('100 concurrent redemptions of one ticket', () => {
  it('give exactly one code on standalone Redis', async () => {
    const url = await sharedRedisUrl();
    const prefix = `tickets:${randomUUID()}:`;
    const server = await startTestServer({ store: createStore(await connectRedis(url), prefix), policy: { rateLimit: false } });
    cleanups.push(() => deleteKeysWithPrefix(url, prefix), async () => { await server.close(); await server.reference.exchange.store.close(); });
    expect(await concurrentRedemptions(server, 100)).toEqual({ codes: 1, denied: 99 });
  });

  it('give exactly one code on Redis Cluster', async () => {
    const cluster = await startRedisCluster();
    cleanups.push(() => cluster.stop());
    const server = await startTestServer({ store: createStore(await connectRedisCluster(cluster.nodes), 'tickets:'), policy: { rateLimit: false } });
    cleanups.push(async () => { await server.close(); await server.reference.exchange.store.close(); });
    expect(await concurrentRedemptions(server, 100)).toEqual({ codes: 1, denied: 99 });
  }, 60_000);
});
