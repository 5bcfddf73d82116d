import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { Backend } from '../src/store/index.js';
import { ApprovalStore, type ApprovalRecord } from '../src/store/approvals.js';
import { KeyLayout } from '../src/store/keys.js';
import { backendsUnderTest } from './helpers/backends.js';

/*
 * Subject-approved access on every backend: an approved request is spent by the backend's atomic
 * `consumeEntity` (the operation that makes tickets and codes single-use), so of any number of
 * concurrent uses exactly one wins — in memory, on standalone Redis and on Redis Cluster.
 */

const epoch = () => Math.floor(Date.now() / 1000);

function request(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const now = epoch();
  return {
    id: randomUUID(),
    actor: 'support',
    subject: 'alice',
    reason: 'Ticket 4711: customer cannot see her orders',
    scopes: undefined,
    durationSeconds: 600,
    mode: 'full',
    requestedAt: now,
    answerBy: now + 3600,
    status: 'pending',
    ...overrides,
  };
}

describe.each(backendsUnderTest())('approvals on %s', (_name, open) => {
  let backend: Backend;
  let store: ApprovalStore;

  beforeAll(async () => {
    backend = await open();
    store = new ApprovalStore(backend, new KeyLayout(`approvals:${randomUUID()}:`));
  });
  afterAll(() => backend.close());

  it('spends an approved request exactly once of 50 concurrent uses', async () => {
    const record = request();
    await store.create(record, epoch());
    await store.openWindow(record.id, epoch() + 600, epoch());
    const won = await Promise.all(Array.from({ length: 50 }, () => store.spend(record.id, epoch())));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(await store.use(record.id)).toBe('used');
  });

  it('cannot be spent before it is approved, nor once its window is closed', async () => {
    const record = request();
    await store.create(record, epoch());
    expect(await store.use(record.id)).toBe('closed');
    expect(await store.spend(record.id, epoch())).toBe(false);
    await store.openWindow(record.id, epoch() + 600, epoch());
    expect(await store.use(record.id)).toBe('open');
    await store.closeWindow(record.id);
    expect(await store.spend(record.id, epoch())).toBe(false);
  });

  it('spends its one-time link exactly once of 20 concurrent answers', async () => {
    const record = request();
    await store.create(record, epoch());
    const won = await Promise.all(Array.from({ length: 20 }, () => store.spendLink(record.id, epoch())));
    expect(won.filter(Boolean)).toHaveLength(1);
  });

  it('lists requests by subject and by actor, newest first, with their answers', async () => {
    const subject = `subject-${randomUUID()}`;
    const older = request({ subject, requestedAt: epoch() - 60 });
    const newer = request({ subject, actor: 'admin' });
    await store.create(older, epoch());
    await store.create(newer, epoch());
    await store.update({ ...older, status: 'declined', decidedAt: epoch() }, epoch());
    expect((await store.list({ subject })).map((r) => [r.id, r.status])).toEqual([
      [newer.id, 'pending'],
      [older.id, 'declined'],
    ]);
    expect((await store.list({ actor: 'admin' })).map((r) => r.id)).toContain(newer.id);
  });
});
