import { chain, GENESIS_HASH, type ChainedAuditRecord } from '../audit/chain.js';
import type { AuditEvent, RecordWrites } from '../audit/events.js';
import { InvalidCursorError, type AuditLog, type OutboxJob, type StoredRecord } from '../audit/log.js';

/**
 * The audit log in process memory (tests, the default reference server): the counterpart of
 * RedisAuditLog (store/audit-redis.ts), as MemoryBackend is of RedisBackend.
 */
export class MemoryAuditLog implements AuditLog {
  readonly #records: StoredRecord[] = [];
  readonly #jobs = new Map<string, { job: OutboxJob; dueAt: number }>();
  readonly #dead: Array<OutboxJob & { reason: string }> = [];

  async append(event: AuditEvent, jobs: readonly OutboxJob[], batch?: RecordWrites): Promise<ChainedAuditRecord> {
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
