import { randomUUID } from 'node:crypto';
import type { Backend } from './backend.js';
import { readIndexed } from './indexed.js';
import { revokeGrantMembers } from './adapter.js';
import type { KeyLayout } from './keys.js';
import { decodeJwtRecord, encodeJwtRecord, RevocationLog } from './revocations.js';

/**
 * One live exchanged token: what bulk revocation, the cascade and the console need to know. An
 * impersonation names its actors; a delegation (no `act`) names none and is found only through the
 * grants it derives from.
 */
export interface ImpersonationRecord {
  /** The grant backing the issued token (one grant per exchanged token). */
  readonly grantId: string;
  readonly impersonationId: string;
  /** Who acts: the direct actor first, then every prior actor of the `act` chain; empty for a delegation. */
  readonly actors: readonly string[];
  /** Not added to the subject's history: a later token of a delegation the history already lists. */
  readonly quiet?: boolean | undefined;
  /** The kind of each actor, in the order of `actors` (`act.sub_profile`; '' when unknown). */
  readonly actorProfiles?: readonly string[] | undefined;
  /**
   * The local account of the person who started it (a trusted issuer's actor mapped to its account):
   * the cascade re-reads this account, and a deleted one ends it. Absent when a service acts.
   */
  readonly actorAccount?: string | undefined;
  readonly subject: string;
  readonly clientId: string;
  readonly reason?: string | undefined;
  readonly startedAt: number;
  readonly expiresAt: number;
  /** Grants this token derives from (the actor token's, a chained subject token's): revoking one ends it. */
  readonly sources: readonly string[];
  /** The token's id as the audit trail names it (for a browser impersonation: its ticket's). */
  readonly tokenId: string;
  /** `browser`: signed in through a ticket (docs/browser-impersonation.md); absent: issued by token exchange. */
  readonly kind?: 'browser' | undefined;
  /** A browser impersonation's provider session, once a code was issued in it (ended with it). */
  readonly sessionUid?: string | undefined;
  /** `read`: a read-only impersonation (absent: full). */
  readonly mode?: 'read' | undefined;
  /** The subject's approval it started under: revoking the approval ends it. */
  readonly approvalId?: string | undefined;
}

/**
 * One impersonation started of a subject, as the subject's history keeps it (docs/browser-impersonation.md,
 * "The subject's page"): who, through which client, why, when and until when.
 */
export interface HistoryEntry {
  readonly grantId: string;
  readonly actor: string;
  /** The actor's kind (`act.sub_profile`): `user`, `ai_agent`, `service`, ... */
  readonly actorProfile?: string | undefined;
  readonly clientId: string;
  readonly reason?: string | undefined;
  readonly startedAt: number;
  readonly expiresAt: number;
  readonly mode?: 'read' | undefined;
  readonly kind?: 'browser' | undefined;
  /** How and when it ended, when it was ended before its expiry (the `rule` of its `token.revoked` record). */
  readonly ended?: { readonly at: number; readonly rule: string } | undefined;
}

/** One request an API accepted under an impersonation's token, as its receipt said. */
export interface ActivityEntry {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** ISO 8601. */
  readonly at: string;
  readonly audience: readonly string[];
  /** The actor acting then (the outermost of the chain). */
  readonly actor: string;
}

/** Where a page of the history starts: below this epoch millisecond, passing over `skip` entries added at it. */
export interface HistoryCursor {
  readonly at: number;
  readonly skip: number;
}

/**
 * How long the subject's history keeps an impersonation: 90 days after it started. A documented
 * bound (docs/browser-impersonation.md), not a setting: the audit log keeps everything.
 */
export const HISTORY_RETENTION_SECONDS = 90 * 24 * 3600;

/** Which live impersonations an operation applies to. */
export type ImpersonationFilter = { actor: string } | { subject: string } | { sourceGrantId: string } | { all: true };

/** What a token record holds when the token has no grant (client credentials, RFC 6749 §4.4). */
export const NO_GRANT = '-';

const ENABLED = 'impersonation-enabled';
const STORE_MARKER = 'store-marker';

/** What the switch reads: its state, and whether this read found that the store lost its data. */
export interface SwitchState {
  readonly enabled: boolean;
  /** The store came back empty (or lost the switch) since this instance last looked: now closed. */
  readonly dataLost: boolean;
}

/** What decides whether an exchanged token still stands (docs/introspection-revocation.md cascade), read together. */
export interface Standing {
  readonly record: ImpersonationRecord | undefined;
  readonly switchState: SwitchState;
  /** For each of the record's sources, whether its grant entity still exists in this store. */
  readonly sourcesExist: readonly boolean[];
}

/**
 * The shared state of impersonation: every live impersonation indexed by actor, subject and the
 * actor grant it came from; JWT access token records by `jti`; the global switch. Lives in the
 * same backend as the provider's adapter, so every instance sharing it sees the same state.
 */
export class ImpersonationStore {
  /** The store's marker as this instance first saw (or wrote) it. */
  #marker: Promise<string> | undefined;
  /** Whether this instance has seen the shared switch set. */
  #sawSwitch = false;
  /** A recovery from lost data in progress (one per instance at a time). */
  #recovery: Promise<SwitchState> | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly keys: KeyLayout,
  ) {}

  #indexes(record: Pick<ImpersonationRecord, 'actors' | 'actorAccount' | 'subject' | 'sources'>): string[] {
    const sources = record.sources.map((grantId) => this.keys.impersonationsFromGrant(grantId));
    if (record.actors.length === 0) return sources;
    const actors = record.actorAccount === undefined ? record.actors : [...record.actors, record.actorAccount];
    return [
      this.keys.allImpersonations(),
      ...new Set(actors.map((actor) => this.keys.impersonationsOfActor(actor))),
      this.keys.impersonationsOfSubject(record.subject),
      ...sources,
    ];
  }

  /** Forgets source grants no live impersonation derives from any more. */
  async pruneSources(grantIds: readonly string[]): Promise<void> {
    if (grantIds.length) await this.backend.removeFromSet(this.keys.sourceGrants(), grantIds);
  }

  /** Of these grants, the ones some live impersonation was derived from (one read, not one per grant). */
  async sourcesAmong(grantIds: readonly string[]): Promise<string[]> {
    const sources = new Set(await this.backend.members(this.keys.sourceGrants()));
    return grantIds.filter((id) => sources.has(id));
  }

  #indexOf(filter: ImpersonationFilter): string {
    if ('actor' in filter) return this.keys.impersonationsOfActor(filter.actor);
    if ('subject' in filter) return this.keys.impersonationsOfSubject(filter.subject);
    if ('sourceGrantId' in filter) return this.keys.impersonationsFromGrant(filter.sourceGrantId);
    return this.keys.allImpersonations();
  }

  /**
   * Records a live impersonation for `ttlSeconds` (its token's lifetime). One that starts (a single
   * actor: an exchange by a person, a ticket redeemed) also enters the subject's history, in the same
   * commit; one passed on (a chained exchange) is part of the impersonation it came from.
   */
  async add(record: ImpersonationRecord, ttlSeconds: number): Promise<void> {
    const started: HistoryEntry = {
      grantId: record.grantId,
      actor: record.actors[0]!,
      ...(record.actorProfiles?.[0] ? { actorProfile: record.actorProfiles[0] } : {}),
      clientId: record.clientId,
      reason: record.reason,
      startedAt: record.startedAt,
      expiresAt: record.expiresAt,
      ...(record.mode ? { mode: record.mode } : {}),
      ...(record.kind ? { kind: record.kind } : {}),
    };
    // The indexes first, then the record they point to (one script on standalone Redis).
    await this.backend.commit([
      ...this.#indexes(record).map((key) => ({ op: 'addToSet' as const, key, member: record.grantId, ttlSeconds })),
      ...record.sources.map((source) => ({ op: 'addToSet' as const, key: this.keys.sourceGrants(), member: source, ttlSeconds })),
      ...(record.actors.length === 1 && !record.quiet
        ? [{ op: 'addToTimeline' as const, key: this.keys.impersonationHistory(record.subject), member: JSON.stringify(started), at: Date.now(), ttlSeconds: HISTORY_RETENTION_SECONDS }]
        : []),
      { op: 'set', key: this.keys.impersonation(record.grantId), value: JSON.stringify(record), ttlSeconds },
    ]);
  }

  /** Notes in the subject's history how and when these impersonations ended. */
  async noteEnded(records: readonly ImpersonationRecord[], rule: string, at: number): Promise<void> {
    const started = records.filter((r) => r.actors.length === 1);
    if (!started.length) return;
    const value = JSON.stringify({ at, rule });
    await this.backend.commit(started.map((r) => ({ op: 'set' as const, key: this.keys.impersonationEnding(r.grantId), value, ttlSeconds: HISTORY_RETENTION_SECONDS })));
  }

  /**
   * Notes a request an API accepted under the impersonation backed by `grantId` (an activity
   * receipt, docs/beyond-impersonation.md): the subject's page and the console show what was done.
   */
  async addActivity(grantId: string, entry: ActivityEntry): Promise<void> {
    await this.backend.addToTimeline(this.keys.impersonationActivity(grantId), JSON.stringify(entry), Date.now(), HISTORY_RETENTION_SECONDS);
  }

  /** The newest `limit` requests accepted under the impersonation backed by `grantId`, newest first. */
  async activity(grantId: string, limit: number): Promise<ActivityEntry[]> {
    const read = await this.backend.timeline(this.keys.impersonationActivity(grantId), { since: Date.now() - HISTORY_RETENTION_SECONDS * 1000, until: Number.MAX_SAFE_INTEGER, skip: 0, limit });
    return read.map((e) => JSON.parse(e.member) as ActivityEntry);
  }

  /**
   * A page of the impersonations started of a subject within {@link HISTORY_RETENTION_SECONDS},
   * newest first, each with how it ended; `next` is the cursor of the older page, if any.
   */
  async history(subject: string, page: { before?: HistoryCursor | undefined; limit: number }): Promise<{ entries: HistoryEntry[]; next: HistoryCursor | undefined }> {
    const read = await this.backend.timeline(this.keys.impersonationHistory(subject), {
      since: Date.now() - HISTORY_RETENTION_SECONDS * 1000,
      until: page.before?.at ?? Number.MAX_SAFE_INTEGER,
      skip: page.before?.skip ?? 0,
      limit: page.limit + 1,
    });
    const shown = read.slice(0, page.limit);
    const entries = shown.map((e) => JSON.parse(e.member) as HistoryEntry);
    const endings = await this.backend.getMany(entries.map((e) => this.keys.impersonationEnding(e.grantId)));
    const last = shown.at(-1);
    const next =
      read.length > page.limit && last
        ? { at: last.at, skip: shown.filter((e) => e.at === last.at).length + (page.before?.at === last.at ? page.before.skip : 0) }
        : undefined;
    return { entries: entries.map((e, i) => (endings[i] ? { ...e, ended: JSON.parse(endings[i]) as HistoryEntry['ended'] } : e)), next };
  }

  /** Notes the provider session a browser impersonation lives in, so that ending it ends the session. */
  async attachSession(grantId: string, sessionUid: string, now: number): Promise<void> {
    const record = await this.get(grantId);
    if (!record || record.sessionUid === sessionUid || record.expiresAt <= now) return;
    await this.backend.set(this.keys.impersonation(grantId), JSON.stringify({ ...record, sessionUid }), record.expiresAt - now);
  }

  /** How many impersonations the index holds (members whose record expired count until pruned). */
  async count(): Promise<number> {
    return (await this.backend.members(this.keys.allImpersonations())).length;
  }

  async get(grantId: string): Promise<ImpersonationRecord | undefined> {
    const json = await this.backend.get(this.keys.impersonation(grantId));
    return json === undefined ? undefined : (JSON.parse(json) as ImpersonationRecord);
  }

  /**
   * The record, the switch and whether each source grant still exists — one round trip on
   * standalone Redis (introspection pays it on every impersonation token).
   */
  async standing(grantId: string, fallback: boolean): Promise<Standing> {
    const knownMarker = this.#knownMarker();
    const known = await knownMarker;
    const read = await this.backend.readLinked({
      key: this.keys.impersonation(grantId),
      also: [this.keys.setting(ENABLED), this.keys.setting(STORE_MARKER)],
      link: { field: 'sources', ...this.keys.entityTemplate('Grant') },
    });
    const record = read.value === undefined ? undefined : (JSON.parse(read.value) as ImpersonationRecord);
    const [value, marker] = read.also;
    const switchState = this.#settled(known, value, marker, fallback) ?? (await this.switchState(fallback));
    return { record, switchState, sourcesExist: read.linked };
  }

  /** Live impersonations matching the filter; index members whose record expired are pruned. */
  async list(filter: ImpersonationFilter): Promise<ImpersonationRecord[]> {
    return readIndexed<ImpersonationRecord>(this.backend, this.#indexOf(filter), (grantId) => this.keys.impersonation(grantId));
  }

  /** Deletes each grant's members (tokens, JWT records), the grant index, and the grant entity. */
  async deleteGrants(grantIds: readonly string[], grantEntityKey: (grantId: string) => string): Promise<void> {
    await Promise.all([revokeGrantMembers(this.backend, this.keys, ...grantIds), this.backend.delete(grantIds.map(grantEntityKey))]);
  }

  /** Removes impersonation records and their index entries (their tokens are deleted separately). */
  async forget(records: readonly ImpersonationRecord[]): Promise<void> {
    const byIndex = new Map<string, string[]>();
    for (const record of records) {
      for (const index of this.#indexes(record)) {
        const grantIds = byIndex.get(index);
        if (grantIds) grantIds.push(record.grantId);
        else byIndex.set(index, [record.grantId]);
      }
    }
    await Promise.all([
      this.backend.delete(records.map((record) => this.keys.impersonation(record.grantId))),
      ...[...byIndex].map(([index, grantIds]) => this.backend.removeFromSet(index, grantIds)),
    ]);
  }

  /**
   * Records a signed token of this provider by its id (a JWT access token's `jti`, an ID token's
   * digest) under its grant, so revoking the grant removes it. Without a grant (client credentials)
   * it is recorded as {@link NO_GRANT} and ends with its own revocation or expiry. An access token's
   * `audience` is kept so that its revocation reaches the resource servers it is for (the revocation
   * feed); an ID token has none.
   */
  async addJwt(jti: string, grantId: string | undefined, ttlSeconds: number, audience?: readonly string[]): Promise<void> {
    const key = this.keys.jwt(jti);
    const exp = Math.floor(Date.now() / 1000) + Math.ceil(ttlSeconds);
    await this.backend.commit([
      ...(grantId === undefined ? [] : [{ op: 'addToSet' as const, key: this.keys.grant(grantId), member: key, ttlSeconds }]),
      { op: 'set', key, value: encodeJwtRecord({ grantId: grantId ?? NO_GRANT, exp, audience: audience?.length ? audience : undefined }), ttlSeconds },
    ]);
  }

  /** The grant of a recorded token ({@link NO_GRANT} for one without), or `undefined` once revoked or expired. */
  async jwtGrant(jti: string): Promise<string | undefined> {
    const value = await this.backend.get(this.keys.jwt(jti));
    return value === undefined ? undefined : decodeJwtRecord(value).grantId;
  }

  /** Forgets a recorded token that has no grant (its revocation), telling the revocation feed first. */
  async forgetJwt(jti: string): Promise<void> {
    const key = this.keys.jwt(jti);
    const log = new RevocationLog(this.backend, this.keys);
    await log.publish(await log.revokedBy([key]));
    await this.backend.delete([key]);
  }

  #knownMarker(): Promise<string> {
    this.#marker ??= this.backend.setIfAbsent(this.keys.setting(STORE_MARKER), randomUUID()).catch((err: unknown) => {
      this.#marker = undefined;
      throw err;
    });
    return this.#marker;
  }

  /**
   * The global switch; `fallback` (the configured default) until someone sets it — unless the store
   * lost its data. Each instance remembers the store's marker (a random value written once, beside
   * the switch); when the marker is gone or replaced, or the switch this instance saw set is gone,
   * the store came back empty (a restart without persistence, a failover to a blank replica, a
   * FLUSHDB): the switch is then set off in the store, for every instance, until an operator sets it
   * again. An operator's "off" never turns into the configured "on" by losing data.
   */
  async switchState(fallback: boolean): Promise<SwitchState> {
    const knownMarker = this.#knownMarker();
    const known = await knownMarker;
    // One read (both keys share the {settings} slot).
    const [value, marker] = await this.backend.getMany([this.keys.setting(ENABLED), this.keys.setting(STORE_MARKER)]);
    const settled = this.#settled(known, value, marker, fallback);
    if (settled) return settled;
    // Another call of this instance found the loss first and adopted the new marker: read again.
    if (this.#marker !== knownMarker) return this.switchState(fallback);
    this.#recovery ??= this.#closeAfterDataLoss().finally(() => {
      this.#recovery = undefined;
    });
    return this.#recovery;
  }

  /** The switch as read, unless the read shows the store lost its data (then `undefined`). */
  #settled(known: string, value: string | undefined, marker: string | undefined, fallback: boolean): SwitchState | undefined {
    if (marker !== known || (value === undefined && this.#sawSwitch)) return undefined;
    if (value !== undefined) this.#sawSwitch = true;
    return { enabled: value === undefined ? fallback : value === 'true', dataLost: false };
  }

  /** Sets the switch off in the store (unless someone set it since) and adopts the store's new marker. */
  async #closeAfterDataLoss(): Promise<SwitchState> {
    const stored = await this.backend.setIfAbsent(this.keys.setting(ENABLED), 'false');
    const marker = this.backend.setIfAbsent(this.keys.setting(STORE_MARKER), randomUUID()).catch((err: unknown) => {
      this.#marker = undefined;
      throw err;
    });
    this.#marker = marker;
    await marker;
    this.#sawSwitch = true;
    return { enabled: stored === 'true', dataLost: true };
  }

  /** {@link switchState}'s answer alone. */
  async isEnabled(fallback: boolean): Promise<boolean> {
    return (await this.switchState(fallback)).enabled;
  }

  async setEnabled(enabled: boolean): Promise<void> {
    await this.#knownMarker();
    await this.backend.set(this.keys.setting(ENABLED), String(enabled), undefined);
    this.#sawSwitch = true;
  }
}
