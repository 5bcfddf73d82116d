import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AuditEvent } from '../audit/events.js';

/** The extension's Prometheus instruments, on a registry of their own (serve `registry.metrics()`). */
export interface ExchangeMetrics {
  readonly registry: Registry;
  /** Counts an audit event (exchanges by outcome and rule, revocations). */
  observeAudit(event: AuditEvent): void;
  /** Time spent in the grant, by outcome. */
  observeDuration(seconds: number, outcome: 'granted' | 'denied' | 'error'): void;
  /** A webhook delivery attempt's result. */
  observeWebhook(result: 'delivered' | 'retry' | 'failed'): void;
}

/** Creates the instruments; `liveImpersonations` is read at every scrape. */
export function createMetrics(liveImpersonations: () => Promise<number>): ExchangeMetrics {
  const registry = new Registry();
  const exchanges = new Counter({
    name: 'token_exchange_requests_total',
    help: 'Token-exchange attempts by outcome and, for refusals, the rule that refused',
    labelNames: ['outcome', 'rule'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'token_exchange_duration_seconds',
    help: 'Time the token-exchange grant took, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const revocations = new Counter({
    name: 'impersonation_revocations_total',
    help: 'Impersonations ended, by cause',
    labelNames: ['cause'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'impersonations_live',
    help: 'Live impersonations (indexed, not yet expired or revoked)',
    registers: [registry],
    async collect() {
      this.set(await liveImpersonations());
    },
  });
  const tickets = new Counter({
    name: 'impersonation_tickets_total',
    help: 'Browser-impersonation tickets minted and redeemed, by outcome and, for refusals, the rule that refused',
    labelNames: ['event', 'outcome', 'rule'] as const,
    registers: [registry],
  });
  const webhooks = new Counter({
    name: 'webhook_deliveries_total',
    help: 'Webhook delivery attempts: delivered, retry (will try again), failed (gave up)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const webhookFailures = new Counter({
    name: 'webhook_delivery_failures_total',
    help: 'Webhook deliveries given up after the last attempt',
    registers: [registry],
  });

  return {
    registry,
    observeAudit(event) {
      if (event.event === 'ticket.minted' || event.event === 'ticket.redeemed') {
        tickets.inc({ event: event.event, outcome: event.outcome, rule: event.rule ?? '' });
      } else if (event.event === 'exchange.granted' || event.event === 'exchange.denied') {
        exchanges.inc({ outcome: event.outcome, rule: event.rule ?? '' });
      } else if (event.event === 'token.revoked') {
        revocations.inc({ cause: event.rule ?? '' });
      }
    },
    observeDuration(seconds, outcome) {
      duration.observe({ outcome }, seconds);
    },
    observeWebhook(result) {
      webhooks.inc({ result });
      if (result === 'failed') webhookFailures.inc();
    },
  };
}
