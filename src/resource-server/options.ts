import type { ReplayCache } from '../dpop/replay-cache.js';
import { z } from 'zod';
import { invalidOptions } from '../configuration-error.js';
import type { Logger } from '../observability/logger.js';

export { ConfigurationError } from '../configuration-error.js';

/** Asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037): the only ones a resource server accepts. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

const asymmetricAlgorithm = z.enum(ASYMMETRIC_ALGORITHMS, { error: 'must be an asymmetric JWS algorithm (never none, never HS*)' });
const objectWith = <T>(method: string, what: string) =>
  z.custom<T>((v) => typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)[method] === 'function', what);


/** The options of `createResourceServer()` (docs/resource-server.md): every default of the toolkit lives here. */
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
        batchSize: z.number().int().min(1).max(500, 'must be at most 500 (the provider takes at most 500 a batch)').default(250),
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

/** The options of `createResourceServer()`, before defaults. */
export type ResourceServerOptions = z.input<typeof resourceServerToolkitSchema>;

/** `createResourceServer()` options after validation; `mode` defaults to `auto` with introspection, else `jwt`. */
export type ResolvedResourceServerOptions = Omit<z.output<typeof resourceServerToolkitSchema>, 'mode'> & {
  readonly mode: NonNullable<z.output<typeof resourceServerToolkitSchema>['mode']>;
};

/** Validates the toolkit's options and fills defaults. Throws a `ConfigurationError` naming the bad field. */
export function resolveResourceServerOptions(input: unknown): ResolvedResourceServerOptions {
  const result = resourceServerToolkitSchema.safeParse(input);
  if (!result.success) throw invalidOptions('invalid resource server options', result.error);
  const options = result.data;
  return { ...options, mode: options.mode ?? (options.introspection ? 'auto' : 'jwt') };
}

export type { ReplayCache };
