import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { GENESIS_HASH, hashRecord, verifyChain, type ChainedAuditRecord } from '../src/audit/chain.js';
import { ChainedAuditSink } from '../src/audit/chained-sink.js';
import type { AuditLog } from '../src/audit/log.js';
import { AuditRecorder } from '../src/audit/recorder.js';
import { webhookSubscriber } from '../src/webhooks/events.js';
import type { AuditEvent } from '../src/audit/events.js';
import { MemoryAuditLog } from '../src/store/audit-memory.js';
import { readAll } from '../src/audit/query.js';
import { createMemoryStore } from '../src/store/index.js';
import { connectRedis, type RedisBackend } from '../src/store/redis.js';
import type { RedisAuditLog } from '../src/store/audit-redis.js';
import { deleteKeysWithPrefix, sharedRedisUrl, startRedisServer } from './helpers/redis.js';
import { BILLING, impersonate, startTestServer } from './helpers/server.js';

const EVENTS = ['exchange.granted', 'exchange.denied', 'token.revoked', 'settings.changed'] as const;

function event(n: number, writer: string): AuditEvent {
  const name = EVENTS[n % EVENTS.length]!;
  return {
    id: randomUUID(),
    time: new Date(Date.UTC(2026, 10, 21, 12, 0, 0, n)).toISOString(),
    event: name,
    outcome: name === 'exchange.denied' ? 'denied' : 'granted',
    ...(name === 'exchange.denied' ? { rule: 'subject_protected' } : {}),
    actor: writer,
    subject: `user-${n % 7}`,
    client_id: 'support-console',
    request_id: `${writer}-${n}`,
  };
}

async function chainOf(length: number): Promise<ChainedAuditRecord[]> {
  const log = new MemoryAuditLog();
  const sink = new ChainedAuditSink(log);
  for (let n = 0; n < length; n += 1) await sink.write(event(n, 'w'));
  const records: ChainedAuditRecord[] = [];
  for await (const record of readAll(log)) records.push(record);
  return records;
}

describe('the SHA-256 chain (docs/audit.md)', () => {
  it('verifies an untouched chain from the genesis hash', async () => {
    const records = await chainOf(20);
    expect(records[0]!.prev_hash).toBe(GENESIS_HASH);
    expect(verifyChain(records)).toEqual({ ok: true, count: 20 });
  });

  it('detects an edited record at its position', async () => {
    const records = await chainOf(30);
    await fc.assert(
      fc.property(fc.integer({ min: 0, max: 29 }), fc.constantFrom('subject', 'reason', 'time', 'outcome'), (i, field) => {
        const tampered = records.map((r, j) => (j === i ? { ...r, [field]: 'forged' } : r));
        expect(verifyChain(tampered)).toMatchObject({ ok: false, position: i + 1, id: records[i]!.id, problem: 'hash does not match the record (edited)' });
      }),
    );
  });

  it('detects a deleted record at the position after the gap', async () => {
    const records = await chainOf(30);
    await fc.assert(
      fc.property(fc.integer({ min: 0, max: 28 }), (i) => {
        const tampered = records.filter((_, j) => j !== i);
        expect(verifyChain(tampered)).toMatchObject({ ok: false, position: i + 1, id: records[i + 1]!.id });
      }),
    );
  });

  it('detects two reordered records at the first of them', async () => {
    const records = await chainOf(30);
    await fc.assert(
      fc.property(fc.integer({ min: 0, max: 28 }), (i) => {
        const tampered = [...records];
        [tampered[i], tampered[i + 1]] = [tampered[i + 1]!, tampered[i]!];
        expect(verifyChain(tampered)).toMatchObject({ ok: false, position: i + 1 });
      }),
    );
  });

  it('detects a record whose hash was recomputed after an edit (the link to the next breaks)', async () => {
    const records = await chainOf(10);
    const { hash: _hash, prev_hash: prevHash, ...edited } = { ...records[4]!, subject: 'forged' };
    const rehashed: ChainedAuditRecord = { ...edited, prev_hash: prevHash, hash: hashRecord(edited, prevHash) };
    expect(verifyChain(records.map((r, j) => (j === 4 ? rehashed : r)))).toMatchObject({ ok: false, position: 6 });
  });
});

/**
 * Records 150 revocations of one bulk action through the recorder's `recordAll`, with a webhook
 * endpoint subscribed, and checks what the log holds: one record per token, in the order given,
 * chained, each with its delivery.
 */
async function expectBulkRecords(log: AuditLog): Promise<void> {
  const observed: string[] = [];
  const recorder = new AuditRecorder(new ChainedAuditSink(log, [webhookSubscriber([{ url: 'https://hooks.example/impersonations', secret: 'demo-webhook-secret' }])]), [(e) => observed.push(e.token_id!)]);
  const tokens = Array.from({ length: 150 }, (_, n) => `token-${n}`);
  const request = { ip: '127.0.0.1', userAgent: 'console', requestId: randomUUID() };
  await recorder.recordAll('token.revoked', tokens.map((token_id) => ({ outcome: 'granted', rule: 'revoked_bulk_actor', actor: 'support', subject: 'alice', client_id: 'support-console', token_id })), request);
  const records: ChainedAuditRecord[] = [];
  for await (const record of readAll(log)) records.push(record);
  expect(records.map((r) => r.token_id)).toEqual(tokens);
  expect(records.every((r) => r.event === 'token.revoked' && r.rule === 'revoked_bulk_actor' && r.request_id === request.requestId && r.ip === '127.0.0.1')).toBe(true);
  expect(verifyChain(records)).toEqual({ ok: true, count: 150 });
  expect(observed).toEqual(tokens);
  const jobs = await log.claimDue(Date.now() + 1000, 60_000, 1000);
  expect(jobs.map((job) => (JSON.parse(job.body) as { type: string; data: { token_id: string } }).data.token_id).sort()).toEqual([...tokens].sort());
  expect(new Set(jobs.map((job) => (JSON.parse(job.body) as { type: string }).type))).toEqual(new Set(['impersonation.ended']));
}

describe('the records of a bulk action (recordAll)', () => {
  it('stores one record per token in memory, in order, chained, each with its webhook delivery', () => expectBulkRecords(new MemoryAuditLog()));
});

describe('the Redis Stream audit log', () => {
  let url: string;
  const prefix = `audit:${randomUUID()}:`;
  const backends: RedisBackend[] = [];
  let dir: string;

  beforeAll(async () => {
    url = await sharedRedisUrl();
    dir = mkdtempSync(join(tmpdir(), 'audit-cli-'));
    for (let i = 0; i < 2; i += 1) backends.push(await connectRedis(url));
  });
  afterAll(async () => {
    for (const backend of backends) await backend.close();
    deleteKeysWithPrefix(url, prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['dist/server/audit-cli.js', ...args], { env: { ...process.env, NODE_OPTIONS: '', REDIS_URL: url, REDIS_PREFIX: prefix }, encoding: 'utf8' });

  it('computes in its Lua script the same SHA-256 as Node, across padding edges and multi-byte text', async () => {
    const log = backends[0]!.auditLog(prefix) as RedisAuditLog;
    const inputs = [...Array.from({ length: 131 }, (_, n) => 'x'.repeat(n)), 'Ä€😀 reason: ünïcödé', '{"a":1}\n'.repeat(40)];
    for (const input of inputs) expect(await log.sha256(input)).toBe(createHash('sha256').update(input).digest('hex'));
  });

  it('forms one valid chain from 1,000 mixed events of two concurrent writers', async () => {
    const writers = backends.map((backend) => new ChainedAuditSink(backend.auditLog(prefix)));
    await Promise.all(
      writers.map(async (sink, w) => {
        for (let n = 0; n < 500; n += 1) await sink.write(event(n, `writer-${w}`));
      }),
    );
    const records: ChainedAuditRecord[] = [];
    for await (const record of readAll(backends[0]!.auditLog(prefix))) records.push(record);
    expect(records).toHaveLength(1000);
    expect(new Set(records.map((r) => r.actor))).toEqual(new Set(['writer-0', 'writer-1']));
    expect(verifyChain(records)).toEqual({ ok: true, count: 1000 });
  }, 30_000);

  /** Watches the audit scripts a client sends for one stream; `fail` makes them fail as a lost connection would. */
  /**
   * Watches the audit scripts a client sends for one stream: `fail` makes them fail as a lost
   * connection would; `failLater` fails only the call of that number, 5 ms later, never sent (a
   * reply lost while the next commit is under way). `mostInFlight` counts commits unanswered at once.
   */
  function watchCommits(backend: RedisBackend, auditPrefix: string, fail = false, failLater?: number): { calls: number; mostInFlight: number; restore(): void } {
    type Command = { name: string; args: unknown[]; reject(err: Error): void; promise: Promise<unknown> };
    const client = backend.redisClient as unknown as { sendCommand(command: Command, ...rest: unknown[]): unknown };
    const send = client.sendCommand;
    let inFlight = 0;
    const watch = {
      calls: 0,
      mostInFlight: 0,
      restore: () => {
        client.sendCommand = send;
      },
    };
    client.sendCommand = function (command, ...rest) {
      if (/^eval/i.test(command.name) && command.args.includes(`${auditPrefix}{audit}:stream`)) {
        watch.calls += 1;
        watch.mostInFlight = Math.max(watch.mostInFlight, (inFlight += 1));
        const answered = () => (inFlight -= 1);
        command.promise.then(answered, answered);
        if (fail) {
          command.reject(new Error('connection lost'));
          return command.promise;
        }
        if (watch.calls === failLater) {
          setTimeout(() => command.reject(new Error('connection lost')), 5);
          return command.promise;
        }
      }
      return send.call(this, command, ...rest);
    };
    return watch;
  }

  it('commits concurrent appends as a group, answering each request with its own durable record', async () => {
    const log = backends[0]!.auditLog(`${prefix}group:`);
    const watch = watchCommits(backends[0]!, `${prefix}group:`);
    try {
      const events = Array.from({ length: 200 }, (_, n) => event(n, 'group'));
      const answered = await Promise.all(events.map((e) => log.append(e, [])));
      expect(answered.map((r) => r.id)).toEqual(events.map((e) => e.id));
      expect(watch.calls).toBeGreaterThan(0);
      expect(watch.calls).toBeLessThan(20);
      const stored = new Map<string, ChainedAuditRecord>();
      for await (const record of readAll(log)) stored.set(record.id, record);
      expect(stored.size).toBe(200);
      for (const record of answered) expect(stored.get(record.id)).toEqual(record);
      expect(verifyChain([...stored.values()])).toEqual({ ok: true, count: 200 });
    } finally {
      watch.restore();
    }
  });

  it('fails every request of a group whose commit fails, and chains on after it', async () => {
    const log = backends[1]!.auditLog(`${prefix}failed:`);
    const watch = watchCommits(backends[1]!, `${prefix}failed:`, true);
    const failed = await Promise.allSettled(Array.from({ length: 5 }, (_, n) => log.append(event(n, 'failed-group'), [])));
    watch.restore();
    expect(watch.calls).toBe(1);
    expect(failed.map((r) => r.status)).toEqual(Array(5).fill('rejected'));
    await log.append(event(0, 'after-failure'), []);
    const records: ChainedAuditRecord[] = [];
    for await (const record of readAll(log)) records.push(record);
    expect(records.map((r) => r.actor)).toEqual(['after-failure']);
    expect(verifyChain(records)).toEqual({ ok: true, count: 1 });
  });

  it('chains the next group while the last is under way, and keeps one chain when a commit under way fails', async () => {
    const log = backends[0]!.auditLog(`${prefix}in-flight:`);
    await log.append(event(0, 'before'), []);
    const watch = watchCommits(backends[0]!, `${prefix}in-flight:`, false, 1);
    const events = Array.from({ length: 300 }, (_, n) => event(n, 'in-flight'));
    const settled = await Promise.allSettled(events.map((e) => log.append(e, [])));
    watch.restore();
    expect(watch.mostInFlight).toBe(2);
    // The first group (64 records) failed; every later one was stored, chained after 'before'.
    expect(settled.map((r) => r.status)).toEqual([...Array(64).fill('rejected'), ...Array(236).fill('fulfilled')]);
    await log.append(event(0, 'after'), []);
    const records: ChainedAuditRecord[] = [];
    for await (const record of readAll(log)) records.push(record);
    expect(records.map((r) => r.actor)).toEqual(['before', ...Array(236).fill('in-flight'), 'after']);
    const answered = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(records.slice(1, -1)).toEqual(answered);
    expect(verifyChain(records)).toEqual({ ok: true, count: 238 });
  });

  it('stores one record per token of a bulk action, in order, chained, each with its webhook delivery', async () => {
    await expectBulkRecords(backends[0]!.auditLog(`${prefix}bulk:`));
  });

  it('rejects a bulk action whose record groups could not be stored, storing none of them', async () => {
    const log = backends[1]!.auditLog(`${prefix}bulk-failed:`);
    const watch = watchCommits(backends[1]!, `${prefix}bulk-failed:`, true);
    const recorder = new AuditRecorder(new ChainedAuditSink(log));
    const facts = Array.from({ length: 100 }, (_, n) => ({ outcome: 'granted' as const, rule: 'revoked_all', token_id: `t${n}` }));
    await expect(recorder.recordAll('token.revoked', facts, { ip: undefined, userAgent: undefined, requestId: 'r' })).rejects.toThrow('connection lost');
    // An append queued behind the action's second group fails with it: every group was tried.
    await expect(log.append(event(0, 'probe'), [])).rejects.toThrow('connection lost');
    watch.restore();
    expect(watch.calls).toBe(2);
    expect(await log.read(undefined, 10)).toEqual([]);
  });

  it('verifies the stored chain from the CLI, exports it, and finds each kind of tampering in an export', () => {
    const verified = cli('verify');
    expect({ status: verified.status, out: verified.stdout }).toEqual({ status: 0, out: 'ok: 1000 records, chain intact\n' });

    const file = join(dir, 'out.jsonl');
    const exported = cli('export', '--out', file);
    expect(exported.status).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1000);
    expect(cli('verify', '--file', file).status).toBe(0);

    const tamper = (edit: (lines: string[]) => string[]) => {
      const path = join(dir, `${randomUUID()}.jsonl`);
      writeFileSync(path, `${edit([...lines]).join('\n')}\n`);
      return cli('verify', '--file', path);
    };
    const edited = tamper((l) => ((l[499] = l[499]!.replace(/"subject":"user-\d"/, '"subject":"mallory"')), l));
    expect({ status: edited.status, out: edited.stdout }).toEqual({ status: 1, out: expect.stringMatching(/^broken at record 500 \(id [\w-]+\): hash does not match the record \(edited\); 499 records before it verify\n$/) });
    const deleted = tamper((l) => l.filter((_, i) => i !== 299));
    expect({ status: deleted.status, out: deleted.stdout }).toEqual({ status: 1, out: expect.stringMatching(/^broken at record 300 .*prev_hash does not match/) });
    const reordered = tamper((l) => ([l[9], l[10]] = [l[10]!, l[9]!], l));
    expect({ status: reordered.status, out: reordered.stdout }).toEqual({ status: 1, out: expect.stringMatching(/^broken at record 10 /) });
  });

  it('exports only records since a time, which verify as a chain that starts mid-way', () => {
    const file = join(dir, 'since.jsonl');
    expect(cli('export', '--since', '2026-11-21T12:00:00.400Z', '--out', file).status).toBe(0);
    const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ChainedAuditRecord);
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => r.time >= '2026-11-21T12:00:00.400Z')).toBe(true);
  });

  it('refuses an unknown CLI command with usage and exit 2', () => {
    const result = cli('destroy');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage:');
  });
});

describe('no audit, no token, on the durable store', () => {
  it('issues nothing when the Redis audit log is down, and issues again when it is back', async () => {
    const redis = await startRedisServer();
    const backend = await connectRedis(redis.url);
    const server = await startTestServer({ store: createMemoryStore(), auditLog: backend.auditLog('durable:') });
    try {
      const actor = (await server.signIn('support')).access_token;
      expect((await server.exchange(impersonate(actor, 'alice', { resource: BILLING }))).status).toBe(200);
      await redis.stop();
      const before = server.issuedCount();
      const result = await server.exchange(impersonate(actor, 'alice', { resource: BILLING }));
      expect({ status: result.status, body: result.body }).toEqual({ status: 500, body: { error: 'server_error', error_description: 'oops! something went wrong' } });
      expect(server.issuedCount()).toBe(before);
      await redis.start();
      for (let i = 0; i < 100; i += 1) {
        if (await backend.ping().then(() => true, () => false)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect((await server.exchange(impersonate(actor, 'alice', { resource: BILLING }))).status).toBe(200);
    } finally {
      await server.close();
      await backend.close();
      await redis.stop();
    }
  }, 30_000);
});
