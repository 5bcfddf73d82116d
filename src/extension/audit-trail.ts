import { ChainedAuditSink } from '../audit/chained-sink.js';
import type { AuditEvent } from '../audit/events.js';
import type { AuditLog } from '../audit/log.js';
import { MemoryAuditLog } from '../store/audit-memory.js';
import { AuditRecorder } from '../audit/recorder.js';
import type { ResolvedOptions } from '../config.js';
import { createSubjectNotifier, type SubjectNotifier } from '../notify/notifier.js';
import type { Logger } from '../observability/logger.js';
import type { ExchangeMetrics } from '../observability/metrics.js';
import { WebhookDispatcher } from '../webhooks/dispatcher.js';
import { webhookSubscriber } from '../webhooks/events.js';

/** Where audit records go and who hears of them. */
export interface AuditTrail {
  /** The chained audit log (absent when a plain `audit` sink was given). */
  readonly auditLog: AuditLog | undefined;
  readonly recorder: AuditRecorder;
  /** Delivers the webhooks enqueued with the log's records (docs/audit.md); none without a log. */
  readonly dispatcher: WebhookDispatcher | undefined;
  /** Tells the subject through `hooks.notifySubject` (docs/policy.md). */
  readonly notifier: SubjectNotifier;
}

/** Each audit record as one log line: its names and ids only (docs/audit.md: no token values). */
function logAuditRecord(logger: Logger) {
  return (event: AuditEvent) => {
    const { event: name, outcome, rule, client_id, actor, subject, token_id, request_id } = event;
    logger.info({ event: name, outcome, rule, client_id, actor, subject, token_id, request_id }, 'audit');
  };
}

/**
 * The one place the audit trail is wired (docs/audit.md): a plain `audit` sink as given, else the
 * chained log (in memory by default) with the webhooks of its records and their dispatcher. Every
 * record is counted and logged; the subject's notices go through `hooks.notifySubject`.
 */
export function wireAuditTrail(options: ResolvedOptions, deps: { logger: Logger; metrics: ExchangeMetrics }): AuditTrail {
  const observers = [deps.metrics.observeAudit, logAuditRecord(deps.logger)];
  const notifier = createSubjectNotifier(options.hooks.notifySubject, deps.logger);
  if (options.audit) return { auditLog: undefined, recorder: new AuditRecorder(options.audit, observers), dispatcher: undefined, notifier };
  const auditLog = options.auditLog ?? new MemoryAuditLog();
  const { endpoints, ...delivery } = options.webhooks;
  return {
    auditLog,
    recorder: new AuditRecorder(new ChainedAuditSink(auditLog, [webhookSubscriber(endpoints)]), observers),
    dispatcher: new WebhookDispatcher(auditLog, endpoints, delivery, { logger: deps.logger, observe: deps.metrics.observeWebhook }),
    notifier,
  };
}
