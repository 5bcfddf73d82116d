import { randomUUID } from 'node:crypto';
import type { AuditEvent, AuditEventName, AuditSink } from './events.js';

/** Request facts every record carries (SPEC §5); never a header that could hold a credential. */
export interface RequestFacts {
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
  readonly requestId: string;
}

/** What the caller knows about one attempt; the recorder adds id and time. */
export type AuditFacts = Omit<AuditEvent, 'id' | 'time' | 'ip' | 'user_agent' | 'request_id'>;

/** Stamps and writes audit records through the injected sink. */
export class AuditRecorder {
  readonly #sink: AuditSink;
  readonly #clock: () => Date;

  constructor(sink: AuditSink, clock: () => Date = () => new Date()) {
    this.#sink = sink;
    this.#clock = clock;
  }

  /** Writes one record; rejects when the sink could not make it durable. */
  async record(event: AuditEventName, facts: Omit<AuditFacts, 'event'>, request: RequestFacts): Promise<AuditEvent> {
    const record: AuditEvent = {
      id: randomUUID(),
      time: this.#clock().toISOString(),
      event,
      ...stripUndefined(facts),
      ip: request.ip,
      user_agent: request.userAgent,
      request_id: request.requestId,
    };
    await this.#sink.write(record);
    return record;
  }
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
