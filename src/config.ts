import { z } from 'zod';
import type { AccountDirectory } from './accounts.js';
import type { AuditSink } from './audit/events.js';
import type { AuditLog } from './audit/log.js';
import { ConfigurationError, invalidOptions } from './configuration-error.js';
import { approvalsSchema, delegationsSchema, ticketSchema, webhookSchema } from './config/features.js';
import { hooksSchema } from './config/hooks.js';
import { policySchema } from './config/policy.js';
import { resourceServerSchema, trustedIssuerSchema } from './config/targets.js';
import type { Logger } from './observability/logger.js';
import type { Store } from './store/index.js';

export { ConfigurationError } from './configuration-error.js';
export { type AuthorizeInput, type AuthorizeResult, type ExchangeHooks } from './config/hooks.js';
export { parsePolicy, policySchema, type ImpersonationPolicy, type PolicyInput, type RateLimit } from './config/policy.js';
export type { ResourceServerDefinition, TrustedIssuer } from './config/targets.js';

/** The options of `tokenExchange()` (docs/configuration.md): each section and its defaults in src/config/. */
const optionsSchema = z
  .object({
    accounts: z.custom<AccountDirectory>(
      (v) => typeof v === 'object' && v !== null && typeof (v as AccountDirectory).findAccount === 'function',
      'must be an AccountDirectory (an object with findAccount(id))',
    ),
    audit: z
      .custom<AuditSink>(
        (v) => typeof v === 'object' && v !== null && typeof (v as AuditSink).write === 'function',
        'must be an AuditSink (an object with write(event))',
      )
      .optional(),
    /** The durable, chained audit log (default: in memory); webhooks are enqueued with its records. */
    auditLog: z
      .custom<AuditLog>((v) => typeof v === 'object' && v !== null && typeof (v as AuditLog).append === 'function', 'must be an AuditLog (MemoryAuditLog, or backend.auditLog(prefix))')
      .optional(),
    /** Standard Webhooks receivers and delivery settings. */
    webhooks: webhookSchema.default(() => webhookSchema.parse({})),
    /** Structured logger (pino); receives no token, secret, password or reason. */
    logger: z
      .custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).info === 'function', 'must be a logger with info, warn and error (pino)')
      .optional(),
    /** Where impersonations, JWT records and the switch live (default: process memory). */
    store: z
      .custom<Store>(
        (v) => typeof v === 'object' && v !== null && 'impersonations' in v && 'adapter' in v,
        'must be a Store (createMemoryStore(), or createStore(backend) on Redis)',
      )
      .optional(),
    policy: policySchema.default(() => policySchema.parse({})),
    /** Browser-impersonation tickets (docs/browser-impersonation.md §1): `{ lifetimeSeconds, firstPartyClients }`; lifetime default 120, at most 600. */
    tickets: ticketSchema.default(() => ticketSchema.parse({})),
    /** Subject-approved access (`policy.requireSubjectApproval`): `{ requestLifetimeSeconds, defaultDurationSeconds }`. */
    approvals: approvalsSchema.default(() => approvalsSchema.parse({})),
    /** Delegations to agent clients: `{ agents, requestLifetimeSeconds, defaultDurationSeconds }` (default: no agents). */
    delegations: delegationsSchema.default(() => delegationsSchema.parse({})),
    trustedIssuers: z.array(trustedIssuerSchema).default([]),
    /** Resource servers by RFC 8707 indicator; each chooses its access token format. */
    resourceServers: z.record(z.string().min(1), resourceServerSchema).default({}),
    hooks: hooksSchema.default({}),
  })
  .strict();

/** The options of `tokenExchange()`, before defaults. */
export type TokenExchangeOptions = z.input<typeof optionsSchema>;

/** Options after validation, every default filled in. */
export type ResolvedOptions = Readonly<z.output<typeof optionsSchema>>;

/** Validates options and fills defaults. Throws {@link ConfigurationError} naming the bad field. */
export function resolveOptions(input: unknown): ResolvedOptions {
  const result = optionsSchema.safeParse(input);
  if (!result.success) throw invalidOptions('invalid token exchange options', result.error);
  const { accounts, audit, auditLog, webhooks, logger, store, policy, tickets, approvals, delegations, trustedIssuers, resourceServers, hooks } = result.data;
  if (audit && (auditLog || webhooks.endpoints.length)) {
    throw new ConfigurationError('invalid token exchange options: audit: give either audit (a plain sink) or auditLog (+ webhooks), not both');
  }
  return { accounts, audit, auditLog, webhooks, logger, store, policy, tickets, approvals, delegations, trustedIssuers, resourceServers, hooks };
}
