import type { AuditEvent, AuditSink } from './events.js';

/** Keeps records in process memory, in order: for tests and the reference server's default store. */
export class MemoryAuditSink implements AuditSink {
  readonly #records: AuditEvent[] = [];

  async write(event: AuditEvent): Promise<void> {
    this.#records.push(Object.freeze({ ...event }));
  }

  /** A copy of every record written so far, oldest first. */
  records(): AuditEvent[] {
    return [...this.#records];
  }
}
