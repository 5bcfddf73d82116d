import { z } from 'zod';
import type { JWTPayload } from 'jose';
import type { AccountDirectory, DirectoryAccount } from './accounts.js';
import type { AuditSink } from './audit/events.js';
import { APPROVAL_MIN_DURATION_SECONDS, APPROVAL_REQUEST_MAX_SECONDS, HARD_MAX_LIFETIME_SECONDS, TICKET_MAX_LIFETIME_SECONDS } from './constants.js';
import { WEBHOOK_EVENT_TYPES } from './webhooks/types.js';
import type { ResourceServerDefinition } from './exchange/targets.js';
import type { Store } from './store/index.js';
import type { AuditLog } from './audit/log.js';
import type { Logger } from './observability/logger.js';
import type { SubjectNotice } from './notify/types.js';

/** What a policy hook learns about the exchange it may still refuse. */
export interface AuthorizeInput {
  readonly actor: DirectoryAccount | undefined;
  readonly subject: DirectoryAccount;
  readonly clientId: string;
  readonly reason: string | undefined;
  readonly scopes: readonly string[];
  readonly audience: readonly string[];
}

/** The answer of the `authorize` hook: nothing (allow) or a denial with a private detail. */
export type AuthorizeResult = void | { readonly allow: false; readonly detail?: string };

/** TypeScript hooks for what declarative policy cannot say (docs/policy.md). */
export interface ExchangeHooks {
  /** Maps a verified token identity to a local account id; `undefined` means no such account. */
  resolveSubject?(input: { issuer: string; sub: string; claims: JWTPayload; ownIssuer: boolean }): Promise<string | undefined>;
  /** Final say after every built-in rule passed. */
  authorize?(input: AuthorizeInput): Promise<AuthorizeResult>;
  /** Scopes the subject may hold for this client; `undefined` leaves the client's own scope as the limit. */
  scopesFor?(subject: DirectoryAccount, clientId: string): Promise<readonly string[] | undefined>;
  /**
   * Tells the subject (your mailer, in-app messages): an impersonation of their account started,
   * or support asks for their approval (with a one-time link when the account page is mounted).
   * Called after the audit record is written; its errors are logged and never block or fail anything.
   */
  notifySubject?(notice: SubjectNotice): void | Promise<void>;
}

const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token (RFC 6749 §3.3)');

const jwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) });

const trustedIssuerSchema = z
  .object({
    issuer: z.url(),
    jwks: jwksSchema.optional(),
    jwksUri: z.url().optional(),
  })
  .refine((v) => (v.jwks === undefined) !== (v.jwksUri === undefined), {
    message: 'give exactly one of jwks or jwksUri',
  });

const resourceServerSchema = z
  .object({
    scope: z.string(),
    accessTokenFormat: z.enum(['opaque', 'jwt']).default('opaque'),
    audience: z.string().min(1).optional(),
    clients: z.array(z.string().min(1)).default([]),
  })
  .strict();

const rateLimitSchema = z.object({ points: z.number().int().positive(), durationSeconds: z.number().int().positive() }).strict();

/** A fixed-window budget: `points` requests per `durationSeconds`. */
export type RateLimit = z.infer<typeof rateLimitSchema>;

/** docs/policy.md policy. Every default of the project lives here. */
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

const webhookSchema = z
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
const ticketSchema = z
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
const approvalsSchema = z
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
const delegationsSchema = z
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

const hookFunction = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'must be a function');

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
    auditLog: z
      .custom<AuditLog>((v) => typeof v === 'object' && v !== null && typeof (v as AuditLog).append === 'function', 'must be an AuditLog (MemoryAuditLog, or backend.auditLog(prefix))')
      .optional(),
    webhooks: webhookSchema.default(() => webhookSchema.parse({})),
    logger: z
      .custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).info === 'function', 'must be a logger with info, warn and error (pino)')
      .optional(),
    store: z
      .custom<Store>(
        (v) => typeof v === 'object' && v !== null && 'impersonations' in v && 'adapter' in v,
        'must be a Store (createMemoryStore(), or createStore(backend) on Redis)',
      )
      .optional(),
    policy: policySchema.default(() => policySchema.parse({})),
    tickets: ticketSchema.default(() => ticketSchema.parse({})),
    approvals: approvalsSchema.default(() => approvalsSchema.parse({})),
    delegations: delegationsSchema.default(() => delegationsSchema.parse({})),
    trustedIssuers: z.array(trustedIssuerSchema).default([]),
    resourceServers: z.record(z.string().min(1), resourceServerSchema).default({}),
    hooks: z
      .object({
        resolveSubject: hookFunction.optional(),
        authorize: hookFunction.optional(),
        scopesFor: hookFunction.optional(),
        notifySubject: hookFunction.optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export type TrustedIssuer = z.infer<typeof trustedIssuerSchema>;

/** The options of `tokenExchange()`, before defaults. */
export interface TokenExchangeOptions {
  accounts: AccountDirectory;
  audit?: AuditSink;
  /** The durable, chained audit log (default: in memory); webhooks are enqueued with its records. */
  auditLog?: AuditLog;
  /** Standard Webhooks receivers and delivery settings. */
  webhooks?: z.input<typeof webhookSchema>;
  /** Structured logger (pino); receives no token, secret, password or reason. */
  logger?: Logger;
  /** Where impersonations, JWT records and the switch live (default: process memory). */
  store?: Store;
  policy?: PolicyInput;
  /** Browser-impersonation tickets (docs/browser-impersonation.md §1): `{ lifetimeSeconds, firstPartyClients }`; lifetime default 120, at most 600. */
  tickets?: z.input<typeof ticketSchema>;
  /** Subject-approved access (`policy.requireSubjectApproval`): `{ requestLifetimeSeconds, defaultDurationSeconds }`. */
  approvals?: z.input<typeof approvalsSchema>;
  /** Delegations to agent clients: `{ agents, requestLifetimeSeconds, defaultDurationSeconds }` (default: no agents). */
  delegations?: z.input<typeof delegationsSchema>;
  trustedIssuers?: Array<{ issuer: string; jwks?: { keys: Array<Record<string, unknown>> }; jwksUri?: string }>;
  /** Resource servers by RFC 8707 indicator; each chooses its access token format. */
  resourceServers?: Record<string, z.input<typeof resourceServerSchema>>;
  hooks?: ExchangeHooks;
}

/** Options after validation, every default filled in. */
export interface ResolvedOptions {
  readonly accounts: AccountDirectory;
  readonly audit: AuditSink | undefined;
  readonly auditLog: AuditLog | undefined;
  readonly webhooks: z.infer<typeof webhookSchema>;
  readonly logger: Logger | undefined;
  readonly store: Store | undefined;
  readonly policy: ImpersonationPolicy;
  readonly tickets: z.infer<typeof ticketSchema>;
  readonly approvals: z.infer<typeof approvalsSchema>;
  readonly delegations: z.infer<typeof delegationsSchema>;
  readonly trustedIssuers: readonly TrustedIssuer[];
  readonly resourceServers: Readonly<Record<string, ResourceServerDefinition>>;
  readonly hooks: ExchangeHooks;
}

/** Thrown at start-up for invalid options; the message names every bad field. */
export class ConfigurationError extends Error {
  readonly code = 'ERR_TOKEN_EXCHANGE_CONFIG';
  /** Each bad field (dotted path from the options' root, e.g. `policy.maxLifetimeSeconds`) and what is wrong with it. */
  readonly issues: ReadonlyArray<{ readonly path: string; readonly message: string }>;
  constructor(message: string, issues: ReadonlyArray<{ path: string; message: string }> = []) {
    super(message);
    this.name = 'ConfigurationError';
    this.issues = issues;
  }
}

function issuesOf(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.map((issue) => ({ path: issue.path.length ? issue.path.join('.') : '(options)', message: issue.message }));
}

function describeIssues(error: z.ZodError): string {
  return issuesOf(error)
    .map(({ path, message }) => `${path}: ${message}`)
    .join('; ');
}

/** Validates options and fills defaults. Throws {@link ConfigurationError} naming the bad field. */
export function resolveOptions(input: unknown): ResolvedOptions {
  const result = optionsSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigurationError(`invalid token exchange options: ${describeIssues(result.error)}`, issuesOf(result.error));
  }
  const { accounts, audit, auditLog, webhooks, logger, store, policy, tickets, approvals, delegations, trustedIssuers, resourceServers, hooks } = result.data;
  if (audit && (auditLog || webhooks.endpoints.length)) {
    throw new ConfigurationError('invalid token exchange options: audit: give either audit (a plain sink) or auditLog (+ webhooks), not both');
  }
  return { accounts, audit, auditLog, webhooks, logger, store, policy, tickets, approvals, delegations, trustedIssuers, resourceServers, hooks: hooks as ExchangeHooks };
}

/** Validates a policy document alone (e.g. the shipped config/ file). */
export function parsePolicy(input: unknown): ImpersonationPolicy {
  const result = policySchema.safeParse(input);
  if (!result.success) {
    throw new ConfigurationError(`invalid impersonation policy: ${describeIssues(result.error)}`, issuesOf(result.error));
  }
  return result.data;
}

// ---------------------------------------------------------------------------------------------
// The resource-server toolkit (docs/resource-server.md): options of `createResourceServer()`.

/** Asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037): the only ones a resource server accepts. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

const asymmetricAlgorithm = z.enum(ASYMMETRIC_ALGORITHMS, { error: 'must be an asymmetric JWS algorithm (never none, never HS*)' });
const objectWith = <T>(method: string, what: string) =>
  z.custom<T>((v) => typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)[method] === 'function', what);

const resourceServerToolkitSchema = z
  .object({
    issuer: z.url(),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((a) => (Array.isArray(a) ? a : [a])),
    mode: z.enum(['jwt', 'auto', 'introspect']).optional(),
    algorithms: z.array(asymmetricAlgorithm).min(1).default(['RS256', 'PS256', 'ES256', 'EdDSA']),
    clockToleranceSeconds: z.number().int().min(0).max(60, 'must be at most 60 seconds').default(5),
    jwks: z
      .object({
        uri: z.url().optional(),
        cacheMaxAgeSeconds: z.number().int().min(0).default(600),
        cooldownSeconds: z.number().int().min(0).default(30),
        timeoutMs: z.number().int().min(1).max(60_000).default(5000),
      })
      .strict()
      .prefault({}),
    introspection: z
      .object({
        endpoint: z.url().optional(),
        clientId: z.string().min(1),
        clientSecret: z.string().min(1),
        authMethod: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
        maxStalenessSeconds: z.number().int().min(0).max(3600, 'must be at most 3600 seconds').default(30),
        cacheMaxEntries: z.number().int().min(0).default(10_000),
        timeoutMs: z.number().int().min(1).max(60_000).default(5000),
        /** How long an inactive answer is reused (the same garbage token costs one call per this). */
        negativeCacheSeconds: z.number().int().min(0).max(60, 'must be at most 60 seconds').default(10),
        /**
         * Introspections of tokens never seen active: per second and burst, overall and per client
         * address. Tokens seen active before are refreshed outside it, so a flood of made-up tokens
         * cannot starve the real ones (keep instances × perSecond under the provider's clientRateLimit).
         */
        budget: z
          .object({
            perSecond: z.number().min(0.1).default(20),
            burst: z.number().int().min(1).default(40),
            perAddressPerSecond: z.number().min(0.1).default(2),
            perAddressBurst: z.number().int().min(1).default(10),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .optional(),
    dpop: z
      .object({
        required: z.boolean().default(false),
        algorithms: z.array(asymmetricAlgorithm).min(1).default(['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA', 'Ed25519']),
        iatWindowSeconds: z.number().int().min(1).max(600, 'must be at most 600 seconds').default(60),
        replayCache: objectWith<ReplayCache>('remember', 'must be a ReplayCache (an object with remember(key, expiresAt))').optional(),
        replayCacheMaxEntries: z.number().int().min(1).default(100_000),
      })
      .strict()
      .prefault({}),
    revocationFeed: z
      .object({
        endpoint: z.url().optional(),
        clientId: z.string().min(1).optional(),
        clientSecret: z.string().min(1).optional(),
        pollIntervalMs: z.number().int().min(100).max(10_000, 'must be at most 10000 ms').default(1000),
        maxStalenessSeconds: z.number().int().min(1).max(300, 'must be at most 300 seconds').default(5),
        whenStale: z.enum(['refuse', 'introspect']).default('refuse'),
        timeoutMs: z.number().int().min(1).max(60_000).default(5000),
      })
      .strict()
      .optional(),
    /**
     * Activity receipts (docs/beyond-impersonation.md): every request accepted under an `act` token
     * is reported to the provider's `POST /receipts` in batches, never blocking or failing the request.
     */
    receipts: z
      .object({
        endpoint: z.url().optional(),
        clientId: z.string().min(1).optional(),
        clientSecret: z.string().min(1).optional(),
        batchSize: z.number().int().min(1).max(100, 'must be at most 100 (the provider takes at most 100 a batch)').default(50),
        flushIntervalMs: z.number().int().min(10).max(60_000).default(1000),
        maxQueue: z.number().int().min(1).max(100_000).default(1000),
        timeoutMs: z.number().int().min(1).max(60_000).default(5000),
      })
      .strict()
      .optional(),
    realm: z.string().regex(/^[\x20\x21\x23-\x5B\x5D-\x7E]*$/, 'must be printable ASCII without quotes or backslashes').optional(),
    publicOrigin: z.url().optional(),
    logger: objectWith<Logger>('info', 'must be a logger with info, warn and error (pino)').optional(),
    now: z.custom<() => number>((v) => typeof v === 'function', 'must be a function returning epoch milliseconds').optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if ((v.mode === 'auto' || v.mode === 'introspect') && !v.introspection) {
      ctx.addIssue({ code: 'custom', path: ['introspection'], message: `mode '${v.mode}' needs introspection client credentials` });
    }
    if (v.dpop.required && !v.publicOrigin) {
      ctx.addIssue({ code: 'custom', path: ['publicOrigin'], message: 'dpop.required needs publicOrigin: DPoP proofs (RFC 9449 §4.3 htu) are checked against it, never against the Host header' });
    }
    const receipts = v.receipts;
    if (receipts && (receipts.clientId === undefined) !== (receipts.clientSecret === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['receipts'], message: 'give both clientId and clientSecret, or neither (then the introspection credentials are used)' });
    } else if (receipts && receipts.clientId === undefined && !v.introspection) {
      ctx.addIssue({ code: 'custom', path: ['receipts', 'clientId'], message: "needs the resource server's client credentials (here or in introspection)" });
    }
    const feed = v.revocationFeed;
    if (feed) {
      if (v.mode === 'introspect') ctx.addIssue({ code: 'custom', path: ['revocationFeed'], message: "serves JWTs verified locally: mode 'introspect' introspects every token" });
      if ((feed.clientId === undefined) !== (feed.clientSecret === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['revocationFeed'], message: 'give both clientId and clientSecret, or neither (then the introspection credentials are used)' });
      } else if (feed.clientId === undefined && !v.introspection) {
        ctx.addIssue({ code: 'custom', path: ['revocationFeed', 'clientId'], message: "needs the resource server's client credentials (here or in introspection)" });
      }
      if (feed.whenStale === 'introspect' && !v.introspection) {
        ctx.addIssue({ code: 'custom', path: ['revocationFeed', 'whenStale'], message: "'introspect' needs introspection client credentials" });
      }
    }
  });

/**
 * Records a DPoP proof's `jti` (RFC 9449 §11.1). `remember` answers `true` the first time a key
 * is seen and `false` for a replay; it keeps a key at least until `expiresAt` (epoch ms). Share
 * one (e.g. on Redis) between the instances of an API so a proof cannot be replayed on another.
 */
export interface ReplayCache {
  remember(key: string, expiresAt: number): boolean | Promise<boolean>;
}

/** The options of `createResourceServer()`, before defaults. */
export type ResourceServerOptions = z.input<typeof resourceServerToolkitSchema>;

/** `createResourceServer()` options after validation; `mode` defaults to `auto` with introspection, else `jwt`. */
export type ResolvedResourceServerOptions = Omit<z.infer<typeof resourceServerToolkitSchema>, 'mode'> & {
  readonly mode: 'jwt' | 'auto' | 'introspect';
};

/** Validates the toolkit's options and fills defaults. Throws {@link ConfigurationError} naming the bad field. */
export function resolveResourceServerOptions(input: unknown): ResolvedResourceServerOptions {
  const result = resourceServerToolkitSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigurationError(`invalid resource server options: ${describeIssues(result.error)}`, issuesOf(result.error));
  }
  const options = result.data;
  return { ...options, mode: options.mode ?? (options.introspection ? 'auto' : 'jwt') };
}
