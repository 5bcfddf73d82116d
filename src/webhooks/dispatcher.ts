import type { AuditLog, OutboxJob } from '../audit/log.js';
import type { Logger } from '../observability/logger.js';
import { signWebhook } from './signature.js';
import type { WebhookEndpoint } from './events.js';

/** Delivery settings; defaults live in the config schema. */
export interface DeliverySettings {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly timeoutMs: number;
  readonly pollIntervalMs: number;
  /** How long a claimed delivery stays invisible to other workers before it is due again. */
  readonly leaseMs: number;
}

/** Exponential back-off: base × 2^(attempt−1), capped, with up to 20 % jitter. */
export function backoffMs(attempt: number, settings: Pick<DeliverySettings, 'baseDelayMs' | 'maxDelayMs'>, random = Math.random): number {
  const delay = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(delay * (1 + 0.2 * random()));
}

/**
 * Delivers webhooks from the durable outbox, off the token path: polls for due jobs, POSTs them
 * signed per Standard Webhooks, settles successes, reschedules failures with back-off, and buries
 * a job after `maxAttempts`. Any number of instances may run one: a claim leases a job to one of
 * them, and a job whose worker died becomes due again when the lease ends.
 */
export class WebhookDispatcher {
  readonly #secrets: Map<string, string>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(
    private readonly log: AuditLog,
    endpoints: readonly WebhookEndpoint[],
    private readonly settings: DeliverySettings,
    private readonly hooks: { logger: Logger; observe(result: 'delivered' | 'retry' | 'failed'): void },
  ) {
    this.#secrets = new Map(endpoints.map((e) => [e.url, e.secret]));
  }

  start(): void {
    if (this.#timer || this.#secrets.size === 0) return;
    this.#timer = setInterval(() => {
      this.#running ??= this.tick().finally(() => (this.#running = undefined));
    }, this.settings.pollIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One round: deliver every due job (also callable directly). */
  async tick(now = Date.now()): Promise<void> {
    let jobs: OutboxJob[];
    try {
      jobs = await this.log.claimDue(now, this.settings.leaseMs, 50);
    } catch (err) {
      this.hooks.logger.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'webhook outbox unavailable');
      return;
    }
    await Promise.all(jobs.map((job) => this.#deliver(job)));
  }

  async #deliver(job: OutboxJob): Promise<void> {
    const secret = this.#secrets.get(job.endpoint);
    const attempt = job.attempts + 1;
    if (!secret) {
      await this.log.bury(job, 'endpoint no longer configured');
      return;
    }
    let failure: string | undefined;
    try {
      const timestamp = Math.floor(Date.now() / 1000);
      const response = await fetch(job.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': job.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(secret, job.id, timestamp, job.body),
        },
        body: job.body,
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) failure = `HTTP ${response.status}`;
    } catch (err) {
      failure = (err as Error).name;
    }
    const target = new URL(job.endpoint).host;
    if (failure === undefined) {
      await this.log.settle(job.id);
      this.hooks.observe('delivered');
      return;
    }
    const next = { ...job, attempts: attempt, firstAttemptAt: job.firstAttemptAt ?? Date.now() };
    if (attempt >= this.settings.maxAttempts) {
      await this.log.bury(next, failure);
      this.hooks.observe('failed');
      this.hooks.logger.warn({ webhook_id: job.id, target, attempts: attempt, failure }, 'webhook delivery given up');
      return;
    }
    await this.log.reschedule(next, Date.now() + backoffMs(attempt, this.settings));
    this.hooks.observe('retry');
    this.hooks.logger.info({ webhook_id: job.id, target, attempts: attempt, failure }, 'webhook delivery will be retried');
  }
}
