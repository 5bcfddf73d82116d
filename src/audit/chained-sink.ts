import type { WebhookEndpoint } from '../webhooks/events.js';
import { webhookJobsFor } from '../webhooks/events.js';
import type { AuditEvent, AuditExtras, AuditSink } from './events.js';
import type { AuditLog } from './log.js';

/**
 * The sink behind the durable audit trail: each event is chained (SHA-256) into the log together
 * with the webhook deliveries it causes, in one atomic write. A rejected write means neither the
 * record nor its webhooks exist, and the grant issues nothing.
 */
export class ChainedAuditSink implements AuditSink {
  constructor(
    readonly log: AuditLog,
    private readonly endpoints: readonly WebhookEndpoint[] = [],
  ) {}

  async write(event: AuditEvent, extras?: AuditExtras): Promise<void> {
    await this.log.append(event, webhookJobsFor(event, this.endpoints, extras?.notice), extras?.batch);
  }
}
