import { randomUUID } from 'node:crypto';
import { boundFields } from './bounds.js';
import type { AuditEvent, AuditEventName, AuditExtras, AuditSink } from './events.js';

/** Request facts every record carries (docs/audit.md); never a header that could hold a credential. */
export interface RequestFacts {
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
  readonly requestId: string;
}

/** What the caller knows about one attempt; the recorder adds id and time. */
export type AuditFacts = Omit<AuditEvent, 'id' | 'time' | 'ip' | 'user_agent' | 'request_id'>;

/**
 * Stamps and writes audit records through the injected sink. Every record passes through here, so
 * here every field is bounded ({@link boundFields}): nothing a caller sends is recorded at more
 * than its field's size, and an id that looks like a credential is recorded as a digest.
 */
export class AuditRecorder {
  readonly #sink: AuditSink;
  readonly #clock: () => Date;
  readonly #observers: ReadonlyArray<(event: AuditEvent) => void>;

  /** `observers` see each record once it is written (metrics, logs). */
  constructor(sink: AuditSink, observers: ReadonlyArray<(event: AuditEvent) => void> = [], clock: () => Date = () => new Date()) {
    this.#sink = sink;
    this.#clock = clock;
    this.#observers = observers;
  }

  /** Writes one record; rejects when the sink could not make it durable. `extras` go to delivery only (webhooks). */
  async record(event: AuditEventName, facts: Omit<AuditFacts, 'event'>, request: RequestFacts, extras?: AuditExtras): Promise<AuditEvent> {
    const record = this.#stamp(event, facts, request, this.#clock().toISOString());
    await (extras ? this.#sink.write(record, extras) : this.#sink.write(record));
    for (const observe of this.#observers) observe(record);
    return record;
  }

  /**
   * Writes one record per entry of `facts`, of one action at one time (a bulk revocation's: one
   * `token.revoked` per token), through the sink's `writeAll` when it has one; rejects when any
   * record could not be made durable.
   */
  async recordAll(event: AuditEventName, facts: ReadonlyArray<Omit<AuditFacts, 'event'>>, request: RequestFacts): Promise<void> {
    const time = this.#clock().toISOString();
    const records = facts.map((f) => this.#stamp(event, f, request, time));
    if (this.#sink.writeAll) await this.#sink.writeAll(records);
    else await Promise.all(records.map((record) => this.#sink.write(record)));
    for (const record of records) for (const observe of this.#observers) observe(record);
  }

  #stamp(event: AuditEventName, facts: Omit<AuditFacts, 'event'>, request: RequestFacts, time: string): AuditEvent {
    return boundFields({ id: randomUUID(), time, event, ...facts, ip: request.ip, user_agent: request.userAgent, request_id: request.requestId });
  }
}
