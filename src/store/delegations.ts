import type { Backend } from './backend.js';
import { readIndexed } from './indexed.js';
import type { KeyLayout } from './keys.js';

/** Where a delegation to an agent stands (docs/beyond-impersonation.md "Delegation to agents"). */
export type DelegationStatus = 'pending' | 'active' | 'paused' | 'ended' | 'declined';

/** A user's delegation to an agent client: asked by the agent or granted by the user. */
export interface DelegationRecord {
  readonly id: string;
  /** The agent's client id. */
  readonly agent: string;
  /** The user the agent acts for. */
  readonly subject: string;
  /** What the agent asked for, in its own words (shown to the user; audited). */
  readonly reason: string | undefined;
  /** The scopes asked for, then granted. */
  readonly scopes: readonly string[];
  readonly durationSeconds: number;
  readonly status: DelegationStatus;
  readonly requestedAt: number;
  /** A pending request lapses unanswered at this epoch second. */
  readonly answerBy: number;
  readonly grantedAt?: number | undefined;
  /** Once granted: the end of the delegation (epoch second). Nothing derived from it outlives it. */
  readonly until?: number | undefined;
  /** The grant of the subject token the agent collected: ending it ends everything derived. */
  readonly grantId?: string | undefined;
  readonly endedAt?: number | undefined;
  /** The subject token whose first exchange the user's history already lists (later ones are not listed again). */
  readonly listedFor?: string | undefined;
}

/** Ended and declined delegations stay listed this long. */
const RETENTION_SECONDS = 30 * 24 * 3600;

/**
 * Delegations on the shared backend. The subject token of an active delegation is collected once:
 * its single collection is an entity spent with the backend's atomic `consumeEntity`, so of
 * concurrent collections on any number of instances exactly one mints a token.
 */
export class DelegationStore {
  constructor(
    private readonly backend: Backend,
    private readonly keys: KeyLayout,
  ) {}

  #ttl(record: DelegationRecord, now: number): number {
    return Math.max(1, Math.max(record.answerBy, record.until ?? 0) + RETENTION_SECONDS - now);
  }

  async create(record: DelegationRecord, now: number): Promise<void> {
    const ttl = this.#ttl(record, now);
    await this.backend.set(this.keys.delegation(record.id), JSON.stringify(record), ttl);
    await this.backend.addToSets([
      { key: this.keys.delegationsOfSubject(record.subject), member: record.id, ttlSeconds: ttl },
      { key: this.keys.delegationsOfAgent(record.agent), member: record.id, ttlSeconds: ttl },
    ]);
  }

  async get(id: string): Promise<DelegationRecord | undefined> {
    const json = await this.backend.get(this.keys.delegation(id));
    return json === undefined ? undefined : (JSON.parse(json) as DelegationRecord);
  }

  async update(record: DelegationRecord, now: number): Promise<void> {
    await this.backend.set(this.keys.delegation(record.id), JSON.stringify(record), this.#ttl(record, now));
  }

  /** A subject's delegations, or an agent's, newest first. */
  async list(filter: { subject: string } | { agent: string }): Promise<DelegationRecord[]> {
    const index = 'subject' in filter ? this.keys.delegationsOfSubject(filter.subject) : this.keys.delegationsOfAgent(filter.agent);
    const records = await readIndexed<DelegationRecord>(this.backend, index, (id) => this.keys.delegation(id));
    return records.sort((a, b) => b.requestedAt - a.requestedAt);
  }

  /** Arms one collection of the subject token, until the delegation ends. */
  async armCollection(id: string, until: number, now: number): Promise<void> {
    await this.backend.putEntity(this.keys.delegationCollect(id), '{}', Math.max(1, until - now));
  }

  /** Spends the collection: `true` exactly once while armed. */
  collect(id: string, now: number): Promise<boolean> {
    return this.backend.consumeEntity(this.keys.delegationCollect(id), now);
  }

  async disarm(id: string): Promise<void> {
    await this.backend.delete([this.keys.delegationCollect(id)]);
  }
}
