import { z } from 'zod';
import { HARD_MAX_LIFETIME_SECONDS } from '../constants.js';
import { invalidOptions } from '../configuration-error.js';

const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token (RFC 6749 §3.3)');

const rateLimitSchema = z.object({ points: z.number().int().positive(), durationSeconds: z.number().int().positive() }).strict();

/** A fixed-window budget: `points` requests per `durationSeconds`. */
export type RateLimit = z.infer<typeof rateLimitSchema>;

/** The impersonation policy and its defaults (docs/policy.md). */
export const policySchema = z
  .object({
    enabled: z.boolean().default(false),
    actorRoles: z.array(z.string().min(1)).min(1).default(['impersonator']),
    globalRole: z.string().min(1).default('global_impersonator'),
    protectedRoles: z.array(z.string().min(1)).default(['admin']),
    requireReason: z.boolean().default(true),
    maxLifetimeSeconds: z
      .number()
      .int()
      .positive()
      .max(HARD_MAX_LIFETIME_SECONDS, `must be at most ${HARD_MAX_LIFETIME_SECONDS} seconds (the hard maximum of an impersonation)`)
      .default(HARD_MAX_LIFETIME_SECONDS),
    scopes: z
      .object({
        allow: z.array(scopeToken).optional(),
        deny: z.array(scopeToken).default([]),
      })
      .strict()
      .default({ deny: [] }),
    audiences: z
      .object({ allow: z.array(z.string().min(1)).optional() })
      .strict()
      .default({}),
    maxActors: z.number().int().min(1).max(10).default(3),
    /** Impersonations (started or chained) per human actor. */
    rateLimit: z.union([z.literal(false), rateLimitSchema]).default({ points: 30, durationSeconds: 60 }),
    /** Introspection requests, and revocation requests, per authenticated client (counted apart). */
    clientRateLimit: z.union([z.literal(false), rateLimitSchema]).default({ points: 3000, durationSeconds: 60 }),
    /**
     * Wrong or missing client authentication at the token (every grant), introspection and
     * revocation endpoints, and token-exchange refusals without it, per IP address (docs/policy.md
     * "Rate limits").
     */
    unauthenticatedRateLimit: z.union([z.literal(false), rateLimitSchema]).default({ points: 60, durationSeconds: 60 }),
    maxActorAuthAgeSeconds: z.number().int().positive().optional(),
    requireSubjectApproval: z
      .union(
        [
          z.boolean(),
          z
            .object({
              tenants: z.array(z.string().min(1)).min(1, 'must list at least one tenant (or leave it out)').optional(),
              actorRoles: z.array(z.string().min(1)).min(1, 'must list at least one role (or leave it out)').optional(),
            })
            .strict()
            .refine((v) => v.tenants !== undefined || v.actorRoles !== undefined, {
              message: 'give tenants (subjects of these tenants must approve) and/or actorRoles (actors holding these roles must ask), or true for every impersonation',
            }),
        ],
        { error: 'must be true, false, or { tenants?: [...], actorRoles?: [...] }' },
      )
      .default(false),
    readOnlyScopes: z.array(scopeToken).min(1, 'must list at least one scope: a read-only impersonation carries only these').optional(),
    readOnlyRoles: z.array(z.string().min(1)).default([]),
    /**
     * Rules by kind of actor (`act.sub_profile`, docs/policy.md "Typed actors"), e.g.
     * `{ "ai_agent": { "readOnly": true, "protectedSubjects": false } }`.
     */
    actorProfiles: z
      .record(
        z.string().regex(/^[a-z0-9._-]+$/, 'must be one entity profile in lower case (e.g. ai_agent)'),
        z.object({ readOnly: z.boolean().default(false), protectedSubjects: z.boolean().default(true) }).strict(),
      )
      .default({}),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (Object.values(v.actorProfiles).some((rule) => rule.readOnly) && v.readOnlyScopes === undefined) {
      ctx.addIssue({ code: 'custom', path: ['readOnlyScopes'], message: 'is required when an actorProfiles rule is readOnly: list the scopes a read-only actor may carry' });
    }
    if (v.readOnlyRoles.length > 0 && v.readOnlyScopes === undefined) {
      ctx.addIssue({ code: 'custom', path: ['readOnlyScopes'], message: 'is required when readOnlyRoles is set: list the scopes a read-only impersonation may carry' });
    }
  });

export type ImpersonationPolicy = z.infer<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;

/** Validates a policy document alone (e.g. the shipped config/ file). */
export function parsePolicy(input: unknown): ImpersonationPolicy {
  const result = policySchema.safeParse(input);
  if (!result.success) throw invalidOptions('invalid impersonation policy', result.error);
  return result.data;
}
