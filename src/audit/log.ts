import { chain, GENESIS_HASH, type ChainedAuditRecord } from './chain.js';
import type { WriteBatch } from '../store/write-batch.js';
import type { AuditEvent } from './events.js';

/** A webhook delivery waiting in the outbox (stored with the record that caused it). */
export interface OutboxJob {
  readonly id: string;
  readonly endpoint: string;
  readonly body: string;
  readonly attempts: number;
  readonly firstAttemptAt?: number | undefined;
}

/** One stored record and its position token (a cursor for paging). */
export interface StoredRecord {
  readonly cursor: string;
  readonly record: ChainedAuditRecord;
}

/** A cursor that this log never gave out (the admin API answers 400). */
export class InvalidCursorError extends Error {
  readonly code = 'ERR_AUDIT_CURSOR';
  constructor() {
    super('not a cursor of this audit log');
    this.name = 'InvalidCursorError';
  }
}

/**
 * The durable, append-only audit log and its webhook outbox. `append` links the event to the
 * chain and stores it together with its outbox jobs, atomically: two writers racing still form one
 * valid chain. With a `batch` (the store writes the record authorizes: grant, token, index), the
 * log commits it — in the same atomic write where it can (Redis standalone, same connection), else
 * right after the record is durable; never before.
 */
export interface AuditLog {
  append(event: AuditEvent, jobs: readonly OutboxJob[], batch?: WriteBatch): Promise<ChainedAuditRecord>;
  /** Records after `cursor` (exclusive), oldest first, at most `count`. Rejects a foreign cursor with {@link InvalidCursorError}. */
  read(after: string | undefined, count: number): Promise<StoredRecord[]>;
  /** Records before `cursor` (exclusive), newest first, at most `count`. Rejects a foreign cursor with {@link InvalidCursorError}. */
  readBackwards(before: string | undefined, count: number): Promise<StoredRecord[]>;
  /** Claims up to `max` due jobs for `leaseMs` (a claimed job is due again if never settled). */
  claimDue(now: number, leaseMs: number, max: number): Promise<OutboxJob[]>;
  /** Delivered: removes the job. */
  settle(jobId: string): Promise<void>;
  /** Failed: stores the job with its attempt count, due again at `at`. */
  reschedule(job: OutboxJob, at: number): Promise<void>;
  /** Gave up: moves the job to the dead letters. */
  bury(job: OutboxJob, reason: string): Promise<void>;
  deadLetters(): Promise<Array<OutboxJob & { reason: string }>>;
}

/** The audit log in process memory (tests, the default reference server). */
export class MemoryAuditLog implements AuditLog {
  readonly #records: StoredRecord[] = [];
  readonly #jobs = new Map<string, { job: OutboxJob; dueAt: number }>();
  readonly #dead: Array<OutboxJob & { reason: string }> = [];

  async append(event: AuditEvent, jobs: readonly OutboxJob[], batch?: WriteBatch): Promise<ChainedAuditRecord> {
    const record = chain(event, this.#records.at(-1)?.record.hash ?? GENESIS_HASH);
    this.#records.push({ cursor: String(this.#records.length + 1), record });
    const now = Date.now();
    for (const job of jobs) this.#jobs.set(job.id, { job, dueAt: now });
    await batch?.commit();
    return record;
  }

  /** Cursors are positions counted from 1. */
  #position(cursor: string): number {
    if (!/^\d{1,15}$/.test(cursor)) throw new InvalidCursorError();
    return Number(cursor);
  }

  async read(after: string | undefined, count: number): Promise<StoredRecord[]> {
    const start = after === undefined ? 0 : this.#position(after);
    return this.#records.slice(start, start + count);
  }

  async readBackwards(before: string | undefined, count: number): Promise<StoredRecord[]> {
    const end = before === undefined ? this.#records.length : Math.min(this.#records.length, this.#position(before) - 1);
    if (end <= 0) return [];
    return this.#records.slice(Math.max(0, end - count), end).reverse();
  }

  async claimDue(now: number, leaseMs: number, max: number): Promise<OutboxJob[]> {
    const due = [...this.#jobs.values()].filter((entry) => entry.dueAt <= now).slice(0, max);
    for (const entry of due) entry.dueAt = now + leaseMs;
    return due.map((entry) => entry.job);
  }

  async settle(jobId: string): Promise<void> {
    this.#jobs.delete(jobId);
  }

  async reschedule(job: OutboxJob, at: number): Promise<void> {
    this.#jobs.set(job.id, { job, dueAt: at });
  }

  async bury(job: OutboxJob, reason: string): Promise<void> {
    this.#jobs.delete(job.id);
    this.#dead.push({ ...job, reason });
  }

  async deadLetters(): Promise<Array<OutboxJob & { reason: string }>> {
    return [...this.#dead];
  }
}
