import type { ImpersonationMode } from '../constants.js';
import { HARD_MAX_LIFETIME_SECONDS } from '../constants.js';
import type { Backend } from './backend.js';
import { readIndexed } from './indexed.js';
import type { KeyLayout } from './keys.js';

/** Where a request for the subject's approval stands. */
export type ApprovalStatus = 'pending' | 'approved' | 'declined' | 'revoked';

/** A support agent's request to act as a subject, and the subject's answer. */
export interface ApprovalRecord {
  readonly id: string;
  readonly actor: string;
  readonly subject: string;
  readonly reason: string | undefined;
  /** The scopes asked for; `undefined`: whatever policy allows. */
  readonly scopes: readonly string[] | undefined;
  /** How long the access may last once approved (at most 3600 s). */
  readonly durationSeconds: number;
  readonly mode: ImpersonationMode;
  readonly requestedAt: number;
  /** The request lapses unanswered at this epoch second. */
  readonly answerBy: number;
  readonly status: ApprovalStatus;
  readonly decidedAt?: number | undefined;
  /** Once approved: the window's end. The access must start before, and ends at the latest then. */
  readonly approvedUntil?: number | undefined;
}

/** Whether an approved request's single use is still there, was spent, or is gone (window over, revoked). */
export type ApprovalUse = 'open' | 'used' | 'closed';

/** Answered requests stay listed this long after they could last have been used. */
const RETENTION_SECONDS = 7 * 24 * 3600;

/**
 * Approval requests on the shared backend. The single use of an approved request is its own
 * entity, put when the subject approves with the window as its TTL and spent with the backend's
 * atomic `consumeEntity` — the operation that makes tickets and authorization codes single-use —
 * so of any number of concurrent uses on any number of instances exactly one wins, and none after
 * the window. The one-time link has a single-use entity of its own.
 */
export class ApprovalStore {
  constructor(
    private readonly backend: Backend,
    private readonly keys: KeyLayout,
  ) {}

  #ttl(record: ApprovalRecord, now: number): number {
    return Math.max(1, record.answerBy + HARD_MAX_LIFETIME_SECONDS + RETENTION_SECONDS - now);
  }

  /** Stores a new request, indexes it by subject and actor, and arms its one-time link. */
  async create(record: ApprovalRecord, now: number): Promise<void> {
    const ttl = this.#ttl(record, now);
    await this.backend.set(this.keys.approval(record.id), JSON.stringify(record), ttl);
    await this.backend.addToSets([
      { key: this.keys.approvalsOfSubject(record.subject), member: record.id, ttlSeconds: ttl },
      { key: this.keys.approvalsOfActor(record.actor), member: record.id, ttlSeconds: ttl },
    ]);
    await this.backend.putEntity(this.keys.approvalLink(record.id), '{}', Math.max(1, record.answerBy - now));
  }

  async get(id: string): Promise<ApprovalRecord | undefined> {
    const json = await this.backend.get(this.keys.approval(id));
    return json === undefined ? undefined : (JSON.parse(json) as ApprovalRecord);
  }

  /** Replaces the stored request (its answer); the use entity is managed by `openWindow` / `closeWindow`. */
  async update(record: ApprovalRecord, now: number): Promise<void> {
    await this.backend.set(this.keys.approval(record.id), JSON.stringify(record), this.#ttl(record, now));
  }

  /** Requests of a subject, or asked by an actor, newest first; ids whose record expired are pruned. */
  async list(filter: { subject: string } | { actor: string }): Promise<ApprovalRecord[]> {
    const index = 'subject' in filter ? this.keys.approvalsOfSubject(filter.subject) : this.keys.approvalsOfActor(filter.actor);
    const records = await readIndexed<ApprovalRecord>(this.backend, index, (id) => this.keys.approval(id));
    return records.sort((a, b) => b.requestedAt - a.requestedAt);
  }

  /** Approved: the single use exists until the window ends. */
  async openWindow(id: string, until: number, now: number): Promise<void> {
    await this.backend.putEntity(this.keys.approvalUse(id), '{}', Math.max(1, until - now));
  }

  /** Declined or revoked: neither the use nor the link can be spent any more. */
  async closeWindow(id: string): Promise<void> {
    await this.backend.delete([this.keys.approvalUse(id), this.keys.approvalLink(id)]);
  }

  async use(id: string): Promise<ApprovalUse> {
    const entity = await this.backend.getEntity(this.keys.approvalUse(id));
    if (!entity) return 'closed';
    return entity.consumed === undefined ? 'open' : 'used';
  }

  /** Spends the single use: `true` exactly once, `false` when spent, closed or past its window. */
  spend(id: string, now: number): Promise<boolean> {
    return this.backend.consumeEntity(this.keys.approvalUse(id), now);
  }

  /** Spends the one-time link: `true` exactly once, while the request waits for an answer. */
  spendLink(id: string, now: number): Promise<boolean> {
    return this.backend.consumeEntity(this.keys.approvalLink(id), now);
  }
}
