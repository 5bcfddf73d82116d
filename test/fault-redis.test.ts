import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { auditableTokenId } from '../src/exchange/issue.js';
import { createStore, type Store } from '../src/store/index.js';
import { connectRedis, type RedisBackend } from '../src/store/redis.js';
import { startRedisServer } from './helpers/redis.js';
import { BILLING, ORDERS, ORDERS_API, impersonate, startTestServer, type HttpResult, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

/*
 * Fault test (issue 8): Redis is stopped under a steady load of exchanges and comes back empty.
 * Nothing is issued while it is gone or once it is back — the switch stays off, because the store
 * lost its data — and the provider recovers without a restart once an operator turns it on again.
 * A Redis of this file's own (never the shared 6379).
 */

const PREFIX = 'fault:';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let redis: Awaited<ReturnType<typeof startRedisServer>>;
let backend: RedisBackend;
let store: Store;
let server: TestServer;

beforeAll(async () => {
  redis = await startRedisServer();
  backend = await connectRedis(redis.url);
  store = createStore(backend, PREFIX);
  server = await startTestServer({ store, auditLog: backend.auditLog(PREFIX), policy: { rateLimit: false } });
}, 30_000);

afterAll(async () => {
  await server.close();
  await store.close();
  await redis.stop();
});

interface Answer {
  readonly phase: string;
  readonly result: HttpResult;
}

/** Bounded load: `workers` loops, each one exchange at a time with a pause, until stopped. */
function startLoad(actor: () => string, phase: () => string, workers = 3) {
  const answers: Answer[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async (_, worker) => {
    for (let n = 0; running; n += 1) {
      const at = phase();
      const result = await server.exchange(impersonate(actor(), 'alice', { resource: (n + worker) % 2 ? ORDERS : BILLING }));
      answers.push({ phase: at, result });
      await sleep(10);
    }
  });
  return {
    answers,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** The id an audit record names a token by: a JWT's jti, an opaque token's digest. */
const tokenIdOf = (token: string) => (token.includes('.') ? String(decodeJwt(token).jti) : auditableTokenId(token, 'opaque'));

describe('Redis killed under load and back empty (docs/storage.md, docs/audit.md)', () => {
  it('issues nothing while it is gone or after, keeps the switch off, and recovers without a restart', async () => {
    let actor = (await server.signIn('support')).access_token;
    let phase = 'before';
    const load = startLoad(() => actor, () => phase);
    await sleep(400);

    phase = 'outage';
    await redis.stop();
    await sleep(600);
    const issuedWhileDown = server.issuedCount();
    await redis.start();
    phase = 'reconnecting';
    await until(() => backend.ping(), 15_000);
    phase = 'back';
    await sleep(600);
    await load.stop();
    const issuedBeforeOperator = server.issuedCount();

    const { answers } = load;
    const granted = answers.filter((a) => a.result.status === 200);
    expect(granted.filter((a) => a.phase === 'before').length).toBeGreaterThan(0);
    expect(granted.filter((a) => a.phase !== 'before' && a.phase !== 'outage')).toEqual([]);
    expect(answers.some((a) => a.phase === 'outage' && a.result.status === 500)).toBe(true);
    for (const { result } of answers) {
      if (result.status >= 500) expect(result.body).toEqual({ error: 'server_error', error_description: 'oops! something went wrong' });
    }
    expect(answers.filter((a) => a.phase === 'back').map((a) => a.result.body)).toContainEqual({ error: 'unsupported_grant_type', error_description: 'token exchange is disabled' });
    for (const { result } of answers.filter((a) => a.phase === 'back')) {
      expect(result.body).toEqual({ error: 'unsupported_grant_type', error_description: 'token exchange is disabled' });
    }
    // Every token handed out has its audit record (the mirror holds only records Redis took).
    const recorded = new Set(server.audit.records().filter((r) => r.event === 'exchange.granted').map((r) => r.token_id));
    for (const { result } of granted) expect(recorded.has(tokenIdOf(result.body.access_token as string))).toBe(true);
    expect(issuedBeforeOperator).toBe(issuedWhileDown);

    // The operator turns it on again; the same process serves new impersonations.
    await server.reference.exchange.setEnabled(true, { actor: 'admin' });
    actor = (await server.signIn('support')).access_token;
    const after = await server.exchange(impersonate(actor, 'alice', { resource: BILLING }));
    expect(after.status).toBe(200);
    expect((await server.post('/token/introspection', { token: after.body.access_token as string }, ORDERS_API)).body).toMatchObject({ active: true, sub: 'alice' });
  }, 60_000);
});
