import { z } from 'zod';
import { APPROVAL_MIN_DURATION_SECONDS, APPROVAL_REQUEST_MAX_SECONDS, HARD_MAX_LIFETIME_SECONDS, TICKET_MAX_LIFETIME_SECONDS } from '../constants.js';
import { WEBHOOK_EVENT_TYPES } from '../webhooks/types.js';

/** Standard Webhooks receivers and delivery settings (docs/audit.md). */
export const webhookSchema = z
  .object({
    endpoints: z
      .array(
        z
          .object({
            url: z.url(),
            secret: z.string().regex(/^whsec_[A-Za-z0-9+/]{16,}={0,2}$/, 'must be a Standard Webhooks secret: whsec_ + base64 (at least 12 bytes)'),
            events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).optional(),
          })
          .strict(),
      )
      .default([]),
    maxAttempts: z.number().int().min(1).max(50).default(8),
    baseDelayMs: z.number().int().min(10).default(1000),
    maxDelayMs: z.number().int().min(10).default(10 * 60 * 1000),
    timeoutMs: z.number().int().min(100).max(60_000).default(5000),
    pollIntervalMs: z.number().int().min(10).default(500),
    leaseMs: z.number().int().min(1000).default(30_000),
  })
  .strict();

/** docs/browser-impersonation.md §1 browser-impersonation tickets. */
export const ticketSchema = z
  .object({
    lifetimeSeconds: z
      .number()
      .int()
      .min(10)
      .max(TICKET_MAX_LIFETIME_SECONDS, `must be at most ${TICKET_MAX_LIFETIME_SECONDS} seconds (the hard maximum of a ticket)`)
      .default(120),
    /**
     * Clients of the provider's own pages, beyond those of `accountPage()` and `adminConsole()` on
     * this instance: no ticket is minted or redeemed for them (docs/browser-impersonation.md).
     */
    firstPartyClients: z.array(z.string().min(1)).default([]),
  })
  .strict();

/** Subject-approved support access: how long a request waits for the subject, and the window asked by default. */
export const approvalsSchema = z
  .object({
    requestLifetimeSeconds: z
      .number()
      .int()
      .min(60, 'must be at least 60 seconds')
      .max(APPROVAL_REQUEST_MAX_SECONDS, `must be at most ${APPROVAL_REQUEST_MAX_SECONDS} seconds (7 days)`)
      .default(24 * 3600),
    defaultDurationSeconds: z
      .number()
      .int()
      .min(APPROVAL_MIN_DURATION_SECONDS, `must be at least ${APPROVAL_MIN_DURATION_SECONDS} seconds`)
      .max(HARD_MAX_LIFETIME_SECONDS, `must be at most ${HARD_MAX_LIFETIME_SECONDS} seconds (an approval never outlasts an impersonation)`)
      .default(1800),
  })
  .strict();

/** Delegations to agent clients (docs/beyond-impersonation.md "Delegation to agents"). */
export const delegationsSchema = z
  .object({
    /** The agent clients users may delegate to (client ids); none: delegation is off. */
    agents: z.array(z.string().min(1)).default([]),
    /** How long an agent's request waits for the user's answer. */
    requestLifetimeSeconds: z.number().int().min(60, 'must be at least 60 seconds').max(APPROVAL_REQUEST_MAX_SECONDS, `must be at most ${APPROVAL_REQUEST_MAX_SECONDS} seconds (7 days)`).default(600),
    /** The duration offered when the user grants (capped by `policy.maxLifetimeSeconds`). */
    defaultDurationSeconds: z
      .number()
      .int()
      .min(APPROVAL_MIN_DURATION_SECONDS, `must be at least ${APPROVAL_MIN_DURATION_SECONDS} seconds`)
      .max(HARD_MAX_LIFETIME_SECONDS, `must be at most ${HARD_MAX_LIFETIME_SECONDS} seconds`)
      .default(1800),
  })
  .strict();

