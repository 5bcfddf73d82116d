import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { Adapter, AdapterConstructor } from 'oidc-provider';
import type { StoreAdapter } from '../src/store/adapter.js';
import { createStore, withWriteBatch, type Backend, type Store } from '../src/store/index.js';
import { backendsUnderTest } from './helpers/backends.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The same cases for every backend: memory, Redis standalone, Redis Cluster. */
describe.each(backendsUnderTest())('store contract on %s', (_name, open) => {
  let backend: Backend;
  let store: Store;
  let adapterFor: (model: string) => StoreAdapter;

  beforeAll(async () => {
    backend = await open();
    store = createStore(backend, `test:${randomUUID()}:`);
    const Adapter = store.adapter as AdapterConstructor;
    adapterFor = (model) => new Adapter(model) as unknown as StoreAdapter;
  });
  afterAll(() => backend.close());

  it('finds what it stored and nothing else', async () => {
    const tokens: Adapter = adapterFor('AccessToken');
    await tokens.upsert('t1', { accountId: 'alice', scope: 'openid', extra: { list: [], nested: { empty: {} } } }, 60);
    expect(await tokens.find('t1')).toEqual({ accountId: 'alice', scope: 'openid', extra: { list: [], nested: { empty: {} } } });
    expect(await tokens.find('missing')).toBeUndefined();
    expect(await adapterFor('RefreshToken').find('t1')).toBeUndefined();
  });

  it('forgets an entity after its TTL', async () => {
    const codes = adapterFor('AuthorizationCode');
    await codes.upsert('short', { accountId: 'alice' }, 1);
    expect(await codes.find('short')).toBeDefined();
    await sleep(1100);
    expect(await codes.find('short')).toBeUndefined();
  });

  it('replaces an entity on upsert, clearing its consumed mark', async () => {
    const codes = adapterFor('AuthorizationCode');
    await codes.upsert('c1', { accountId: 'alice' }, 60);
    await codes.consume('c1');
    await codes.upsert('c1', { accountId: 'bob' }, 60);
    expect(await codes.find('c1')).toEqual({ accountId: 'bob' });
  });

  it('marks consumed with the time, shown by find', async () => {
    const codes = adapterFor('AuthorizationCode');
    await codes.upsert('c2', { accountId: 'alice' }, 60);
    await codes.consume('c2');
    const found = await codes.find('c2');
    expect(typeof found?.consumed).toBe('number');
  });

  it('lets exactly one of many concurrent consumers win', async () => {
    const codes = adapterFor('AuthorizationCode');
    await codes.upsert('race', { accountId: 'alice' }, 60);
    const results = await Promise.all(Array.from({ length: 25 }, () => codes.consumeOnce('race')));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('never resurrects a missing or expired entity when consuming', async () => {
    const codes = adapterFor('AuthorizationCode');
    expect(await codes.consumeOnce('never-stored')).toBe(false);
    expect(await codes.find('never-stored')).toBeUndefined();
    await codes.upsert('fading', { accountId: 'alice' }, 1);
    await sleep(1100);
    expect(await codes.consumeOnce('fading')).toBe(false);
    expect(await codes.find('fading')).toBeUndefined();
  });

  it('destroys an entity and its secondary index', async () => {
    const sessions = adapterFor('Session');
    await sessions.upsert('s1', { uid: 'uid-1', accountId: 'alice' }, 60);
    expect(await sessions.findByUid('uid-1')).toEqual({ uid: 'uid-1', accountId: 'alice' });
    await sessions.destroy('s1');
    expect(await sessions.find('s1')).toBeUndefined();
    expect(await sessions.findByUid('uid-1')).toBeUndefined();
  });

  it('finds a device code by its user code', async () => {
    const devices = adapterFor('DeviceCode');
    await devices.upsert('d1', { userCode: 'ABCD-EFGH', grantId: 'g-device' }, 60);
    expect(await devices.findByUserCode('ABCD-EFGH')).toEqual({ userCode: 'ABCD-EFGH', grantId: 'g-device' });
  });

  it('revokes every member of a grant across models, with their indexes', async () => {
    const grantId = `g-${randomUUID()}`;
    await adapterFor('AccessToken').upsert('a1', { grantId }, 60);
    await adapterFor('AccessToken').upsert('a2', { grantId }, 120);
    await adapterFor('RefreshToken').upsert('r1', { grantId }, 600);
    await adapterFor('DeviceCode').upsert('d2', { grantId, userCode: 'WXYZ-1234' }, 60);
    await adapterFor('AccessToken').upsert('other', { grantId: 'another-grant' }, 60);
    await adapterFor('AccessToken').revokeByGrantId(grantId);
    for (const [model, id] of [['AccessToken', 'a1'], ['AccessToken', 'a2'], ['RefreshToken', 'r1'], ['DeviceCode', 'd2']] as const) {
      expect(await adapterFor(model).find(id)).toBeUndefined();
    }
    expect(await adapterFor('DeviceCode').findByUserCode('WXYZ-1234')).toBeUndefined();
    expect(await store.backend.members(store.keys.grant(grantId))).toEqual([]);
    expect(await adapterFor('AccessToken').find('other')).toEqual({ grantId: 'another-grant' });
  });

  it('keeps a grant index alive as long as its longest-lived member, then lets it expire', async () => {
    const grantId = `g-${randomUUID()}`;
    await adapterFor('AccessToken').upsert('long', { grantId }, 2);
    await adapterFor('AccessToken').upsert('short', { grantId }, 1);
    await sleep(1100);
    expect(await store.backend.members(store.keys.grant(grantId))).toContain(store.keys.entity('AccessToken', 'long'));
    await sleep(1100);
    expect(await store.backend.members(store.keys.grant(grantId))).toEqual([]);
  });

  it('adds to several sets in one call, never shortening a TTL', async () => {
    const [a, b] = [store.keys.setting(`sets-a-${randomUUID()}`), store.keys.setting(`sets-b-${randomUUID()}`)];
    await store.backend.addToSet(a, 'old', 2);
    await store.backend.addToSets([
      { key: a, member: 'new', ttlSeconds: 1 },
      { key: b, member: 'only', ttlSeconds: 1 },
    ]);
    expect((await store.backend.members(a)).sort()).toEqual(['new', 'old']);
    expect(await store.backend.members(b)).toEqual(['only']);
    await sleep(1100);
    expect(await store.backend.members(b)).toEqual([]);
    expect((await store.backend.members(a)).sort()).toEqual(['new', 'old']);
  });

  it('reads the members of many sets at once, in the order asked, an absent set as empty, past one chunk of keys', async () => {
    const run = randomUUID();
    const keys = Array.from({ length: 1001 }, (_, i) => store.keys.grant(`each-${run}-${i}`));
    await store.backend.addToSets(keys.flatMap((key, i) => (i % 2 ? [] : [{ key, member: `m${i}`, ttlSeconds: 60 }, { key, member: `n${i}`, ttlSeconds: 60 }])));
    const read = await store.backend.membersOfEach([...keys, store.keys.grant(`absent-${run}`)]);
    expect(read).toHaveLength(1002);
    expect(read.map((members) => members.sort())).toEqual([...keys.map((_, i) => (i % 2 ? [] : [`m${i}`, `n${i}`])), []]);
    await store.backend.delete(keys);
  });

  it('reads a timeline newest first within a range, by member among the same millisecond, a page at a time', async () => {
    const key = store.keys.setting(`timeline-${randomUUID()}`);
    await store.backend.commit([
      { op: 'addToTimeline', key, member: 'a', at: 1_000, ttlSeconds: 60 },
      { op: 'addToTimeline', key, member: 'c', at: 3_000, ttlSeconds: 60 },
    ]);
    await store.backend.addToTimeline(key, 'b', 2_000, 60);
    await store.backend.addToTimeline(key, 'b2', 2_000, 60);
    const all = { since: 0, until: Number.MAX_SAFE_INTEGER, skip: 0, limit: 10 };
    expect(await store.backend.timeline(key, all)).toEqual([
      { member: 'c', at: 3_000 },
      { member: 'b2', at: 2_000 },
      { member: 'b', at: 2_000 },
      { member: 'a', at: 1_000 },
    ]);
    expect((await store.backend.timeline(key, { ...all, until: 2_000, skip: 1, limit: 2 })).map((e) => e.member)).toEqual(['b', 'a']);
    expect((await store.backend.timeline(key, { ...all, since: 2_000 })).map((e) => e.member)).toEqual(['c', 'b2', 'b']);
    expect(await store.backend.timeline(store.keys.setting(`timeline-${randomUUID()}`), all)).toEqual([]);
  });

  it('drops timeline members older than their TTL before the newest, and lets the timeline expire', async () => {
    const key = store.keys.setting(`timeline-${randomUUID()}`);
    const now = Date.now();
    await store.backend.addToTimeline(key, 'old', now - 5_000, 1);
    await store.backend.addToTimeline(key, 'new', now, 1);
    expect((await store.backend.timeline(key, { since: 0, until: now, skip: 0, limit: 10 })).map((e) => e.member)).toEqual(['new']);
    await sleep(1100);
    expect(await store.backend.timeline(key, { since: 0, until: now, skip: 0, limit: 10 })).toEqual([]);
  });

  it('drops timeline members older than their TTL even when they were added out of time order or added again', async () => {
    const key = store.keys.setting(`timeline-${randomUUID()}`);
    const now = Date.now();
    await store.backend.addToTimeline(key, 'recent', now - 500, 60);
    await store.backend.addToTimeline(key, 'late-old', now - 5_000, 60);
    await store.backend.addToTimeline(key, 'moved', now - 4_000, 60);
    await store.backend.addToTimeline(key, 'moved', now - 200, 60);
    await store.backend.addToTimeline(key, 'old', now - 3_000, 60);
    await store.backend.addToTimeline(key, 'new', now, 1);
    expect((await store.backend.timeline(key, { since: 0, until: now, skip: 0, limit: 10 })).map((e) => e.member)).toEqual(['new', 'moved', 'recent']);
    await store.backend.addToTimeline(key, 'newest', now + 2_000, 1);
    expect((await store.backend.timeline(key, { since: 0, until: now + 2_000, skip: 0, limit: 10 })).map((e) => e.member)).toEqual(['newest']);
  });

  it('indexes impersonations by actor, subject and source grant, and revokes them with their tokens', async () => {
    const imps = store.impersonations;
    const base = { actors: ['support'], clientId: 'support-console', startedAt: 1, expiresAt: 2, tokenId: 't', impersonationId: 'i', sources: [] };
    const grants = [randomUUID(), randomUUID(), randomUUID()];
    await imps.add({ ...base, grantId: grants[0]!, subject: 'alice', sources: ['src-1'] }, 60);
    await imps.add({ ...base, grantId: grants[1]!, subject: 'bob', actors: ['orders-api', 'support'], sources: ['src-1'] }, 60);
    await imps.add({ ...base, grantId: grants[2]!, actors: ['admin'], subject: 'alice' }, 60);
    await adapterFor('AccessToken').upsert('imp-token', { grantId: grants[0]! }, 60);
    await imps.addJwt('jti-1', grants[1]!, 60);

    expect((await imps.list({ actor: 'support' })).map((r) => r.grantId).sort()).toEqual([grants[0], grants[1]].sort());
    expect((await imps.list({ subject: 'alice' })).map((r) => r.grantId).sort()).toEqual([grants[0], grants[2]].sort());
    expect(await imps.list({ sourceGrantId: 'src-1' })).toHaveLength(2);
    expect(await imps.jwtGrant('jti-1')).toBe(grants[1]);

    const ending = await imps.list({ actor: 'support' });
    await imps.deleteGrants(ending.map((r) => r.grantId), (id) => store.keys.entity('Grant', id));
    await imps.forget(ending);
    expect(await adapterFor('AccessToken').find('imp-token')).toBeUndefined();
    expect(await imps.jwtGrant('jti-1')).toBeUndefined();
    expect(await imps.list({ actor: 'support' })).toEqual([]);
    expect((await imps.list({ all: true })).map((r) => r.grantId)).toEqual([grants[2]]);
  });

  it('numbers log values in the order appended, reads on from a cursor, and drops expired ones', async () => {
    const key = `${store.keys.prefix}{log-contract}`;
    const now = Date.now();
    await backend.appendToLog(key, [{ value: 'a', expiresAt: now + 60_000 }, { value: 'gone', expiresAt: now - 1 }, { value: 'b', expiresAt: now + 60_000 }], now);
    await backend.appendToLog(key, [{ value: 'short', expiresAt: now + 500 }, { value: 'c', expiresAt: now + 60_000 }], now);
    const all = await backend.readLog(key, 0, 100, now);
    expect(all.entries.map((e) => e.value)).toEqual(['a', 'b', 'short', 'c']);
    expect(all.entries.map((e) => e.seq)).toEqual([...all.entries.map((e) => e.seq)].sort((x, y) => x - y));
    expect(all).toMatchObject({ next: all.entries.at(-1)!.seq, more: false, head: all.entries.at(-1)!.seq });
    const page = await backend.readLog(key, 0, 2, now);
    expect(page).toMatchObject({ entries: [{ value: 'a' }, { value: 'b' }], more: true, epoch: all.epoch });
    expect((await backend.readLog(key, page.next, 100, now)).entries.map((e) => e.value)).toEqual(['short', 'c']);
    const later = await backend.readLog(key, 0, 100, now + 1000);
    expect(later.entries.map((e) => e.value)).toEqual(['a', 'b', 'c']);
    expect((await backend.readLog(key, all.next, 100, now)).entries).toEqual([]);
  });

  it("publishes a revoked grant's JWT access tokens, with their audience and expiry, to the revocation log", async () => {
    const imps = store.impersonations;
    const grant = randomUUID();
    const before = await store.revocations.read(0, 1000);
    await imps.addJwt('tx.feed-1', grant, 60, ['https://api.example.test/orders']);
    await imps.addJwt('idt.some-id-token', grant, 60);
    await imps.addJwt('cc-feed-1', undefined, 60, ['https://api.example.test/billing']);
    await imps.deleteGrants([grant], (id) => store.keys.entity('Grant', id));
    await imps.forgetJwt('cc-feed-1');
    const read = await store.revocations.read(before.next, 1000);
    const exp = Math.floor(Date.now() / 1000) + 60;
    expect(read.tokens.map((t) => t.jti)).toEqual(['tx.feed-1', 'cc-feed-1']);
    expect(read.tokens[0]).toEqual({ jti: 'tx.feed-1', exp: expect.any(Number), audience: ['https://api.example.test/orders'] });
    expect(Math.abs(read.tokens[0]!.exp - exp)).toBeLessThanOrEqual(1);
    expect(read.tokens[1]!.audience).toEqual(['https://api.example.test/billing']);
  });

  it('keeps the global switch, falling back to the configured default', async () => {
    expect(await store.impersonations.isEnabled(true)).toBe(true);
    await store.impersonations.setEnabled(false);
    expect(await store.impersonations.isEnabled(true)).toBe(false);
  });

  it('keeps the first value written with setIfAbsent', async () => {
    const key = store.keys.setting('shared');
    expect(await store.backend.setIfAbsent(key, 'first')).toBe('first');
    expect(await store.backend.setIfAbsent(key, 'second')).toBe('first');
  });

  it('commits a batch of writes as if applied one by one, in order', async () => {
    const [set, value, entity] = [store.keys.grant(randomUUID()), store.keys.jwt(randomUUID()), store.keys.entity('AccessToken', randomUUID())];
    await store.backend.commit([
      { op: 'addToSet', key: set, member: entity, ttlSeconds: 60 },
      { op: 'set', key: value, value: 'first', ttlSeconds: 60 },
      { op: 'putEntity', key: entity, json: '{"a":1}', ttlSeconds: 60 },
      { op: 'set', key: value, value: 'second', ttlSeconds: undefined },
    ]);
    expect(await store.backend.members(set)).toEqual([entity]);
    expect(await store.backend.get(value)).toBe('second');
    expect(await store.backend.getEntity(entity)).toEqual({ json: '{"a":1}', consumed: undefined });
  });

  it('reads a value, the values beside it, and which of the keys it links to exist', async () => {
    const id = randomUUID();
    const [present, gone] = [randomUUID(), randomUUID()];
    const template = store.keys.entityTemplate('Grant');
    await store.backend.putEntity(store.keys.entity('Grant', present), '{}', 60);
    await store.backend.set(store.keys.impersonation(id), JSON.stringify({ sources: [present, gone] }), 60);
    await store.backend.set(store.keys.setting('linked-a'), 'a', 60);
    const read = await store.backend.readLinked({
      key: store.keys.impersonation(id),
      also: [store.keys.setting('linked-a'), store.keys.setting('linked-missing')],
      link: { field: 'sources', ...template },
    });
    expect(read).toEqual({ value: JSON.stringify({ sources: [present, gone] }), also: ['a', undefined], linked: [true, false] });
    const missing = await store.backend.readLinked({ key: store.keys.impersonation(randomUUID()), also: [], link: { field: 'sources', ...template } });
    expect(missing).toEqual({ value: undefined, also: [], linked: [] });
  });

  it('reads an impersonation with the switch and which of its source grants still exist', async () => {
    const grantId = randomUUID();
    const [live, revoked] = [randomUUID(), randomUUID()];
    await store.backend.putEntity(store.keys.entity('Grant', live), '{}', 60);
    const record = { grantId, impersonationId: 'i', actors: ['support'], subject: 'alice', clientId: 'c', startedAt: 1, expiresAt: 2, tokenId: 't', sources: [live, revoked] };
    await store.impersonations.add(record, 60);
    const standing = await store.impersonations.standing(grantId, true);
    expect(standing.record).toEqual(record);
    expect(standing.sourcesExist).toEqual([true, false]);
    expect(standing.switchState.dataLost).toBe(false);
  });

  it('holds a model write made inside a write batch until the batch commits', async () => {
    const tokens = adapterFor('AccessToken');
    const batch = store.batch();
    let saved = false;
    const save = withWriteBatch(batch, () => tokens.upsert('batched', { grantId: 'g-batched' }, 60)).then(() => (saved = true));
    await batch.untilDeferred(1, [save]);
    expect(await tokens.find('batched')).toBeUndefined();
    expect(saved).toBe(false);
    await batch.commit();
    await save;
    expect(await tokens.find('batched')).toEqual({ grantId: 'g-batched' });
  });

  it('writes nothing of an abandoned write batch, and fails the model writes waiting on it', async () => {
    const tokens = adapterFor('AccessToken');
    const batch = store.batch();
    const save = withWriteBatch(batch, () => tokens.upsert('abandoned', { grantId: 'g-abandoned' }, 60));
    await batch.untilDeferred(1, [save]);
    batch.abandon(new Error('the request failed first'));
    await expect(save).rejects.toThrow('the request failed first');
    expect(await tokens.find('abandoned')).toBeUndefined();
  });
});
