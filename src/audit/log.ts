import type { ChainedAuditRecord } from './chain.js';
import type { AuditEvent, RecordWrites } from './events.js';

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
 * right after the record is durable; never before. Two implementations, both in src/store/:
 * MemoryAuditLog (store/audit-memory.ts) and RedisAuditLog (store/audit-redis.ts).
 */
export interface AuditLog {
  append(event: AuditEvent, jobs: readonly OutboxJob[], batch?: RecordWrites): Promise<ChainedAuditRecord>;
  /**
   * Optional: appends many events, in order, each with its jobs, as `append` would one by one;
   * resolves once every one is durable, rejects if any is not. Without it `append` is called per event.
   */
  appendAll?(entries: ReadonlyArray<{ readonly event: AuditEvent; readonly jobs: readonly OutboxJob[] }>): Promise<void>;
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
