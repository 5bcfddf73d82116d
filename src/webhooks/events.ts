import { randomUUID } from 'node:crypto';
import type { AuditSubscriber } from '../audit/chained-sink.js';
import type { AuditEvent, AuditNotice } from '../audit/events.js';
import type { OutboxJob } from '../audit/log.js';
import type { WebhookEventType } from './types.js';

export { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './types.js';

/** A configured receiver: its URL, its `whsec_…` secret, the events it wants (default: all). */
export interface WebhookEndpoint {
  readonly url: string;
  readonly secret: string;
  readonly events?: readonly WebhookEventType[] | undefined;
}

/**
 * Which webhook an audit event is, if any: an impersonation started (an exchange with an actor, or
 * a ticket redeemed in a browser), refused (an exchange, a ticket minted or redeemed), or ended;
 * and each step of an approval request, under its own name.
 */
export function webhookTypeOf(event: AuditEvent): WebhookEventType | undefined {
  if (event.event === 'exchange.granted' && event.actor !== undefined) return 'impersonation.started';
  if (event.event === 'ticket.redeemed' && event.outcome === 'granted') return 'impersonation.started';
  if (event.event === 'exchange.denied') return 'impersonation.denied';
  if ((event.event === 'ticket.minted' || event.event === 'ticket.redeemed') && event.outcome !== 'granted') return 'impersonation.denied';
  if (event.event === 'token.revoked') return 'impersonation.ended';
  if (event.event.startsWith('approval.')) return event.event as WebhookEventType;
  return undefined;
}

/** The notice as a webhook may carry it: never the one-time link (only `hooks.notifySubject` receives it). */
export function forWebhook(notice: AuditNotice): AuditNotice {
  if (notice.link === undefined) return notice;
  const { link: _link, ...rest } = notice;
  return rest;
}

/**
 * The outbox jobs an audit event causes: one per subscribed endpoint, body fixed once:
 * `{ type, timestamp, data }` (data: the record without ip and user agent), plus `notice` — the
 * message addressed to the subject — when an impersonation of their account started or support
 * asks for their approval.
 */
export function webhookJobsFor(event: AuditEvent, endpoints: readonly WebhookEndpoint[], notice?: AuditNotice): OutboxJob[] {
  const type = webhookTypeOf(event);
  if (!type) return [];
  const { ip: _ip, user_agent: _ua, ...data } = event;
  const body = JSON.stringify({ type, timestamp: event.time, data, ...(notice ? { notice: forWebhook(notice) } : {}) });
  return endpoints
    .filter((endpoint) => !endpoint.events || endpoint.events.includes(type))
    .map((endpoint) => ({ id: `msg_${randomUUID()}`, endpoint: endpoint.url, body, attempts: 0 }));
}

/**
 * The webhooks as a subscriber to committed records: registered with the chained audit sink when
 * the extension is wired, so each record's deliveries enter the outbox in the record's own write.
 */
export function webhookSubscriber(endpoints: readonly WebhookEndpoint[]): AuditSubscriber {
  return (event, notice) => webhookJobsFor(event, endpoints, notice);
}
