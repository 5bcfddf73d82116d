import type { AuditEvent, AuditExtras, AuditNotice, AuditSink } from './events.js';
import type { AuditLog, OutboxJob } from './log.js';

/**
 * A subscriber to committed records (the webhooks): the outbox jobs it wants for one record,
 * enqueued in the record's own atomic write, so they exist exactly when the record does. Called
 * before the record is chained; it must not fail or wait.
 */
export type AuditSubscriber = (event: AuditEvent, notice: AuditNotice | undefined) => readonly OutboxJob[];

/**
 * The sink behind the durable audit trail: each event is chained (SHA-256) into the log together
 * with the deliveries its subscribers ask for, in one atomic write. A rejected write means neither
 * the record nor its deliveries exist, and the grant issues nothing.
 */
export class ChainedAuditSink implements AuditSink {
  constructor(
    readonly log: AuditLog,
    private readonly subscribers: readonly AuditSubscriber[] = [],
  ) {}

  async write(event: AuditEvent, extras?: AuditExtras): Promise<void> {
    const jobs = this.subscribers.flatMap((subscriber) => subscriber(event, extras?.notice));
    await this.log.append(event, jobs, extras?.batch);
  }

  async writeAll(events: readonly AuditEvent[]): Promise<void> {
    const entries = events.map((event) => ({ event, jobs: this.subscribers.flatMap((subscriber) => subscriber(event, undefined)) }));
    if (this.log.appendAll) await this.log.appendAll(entries);
    else await Promise.all(entries.map(({ event, jobs }) => this.log.append(event, jobs)));
  }
}
