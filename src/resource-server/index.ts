import type { ResourceServerOptions } from './options.js';
import type { Guard, VerifiedAccess } from './access.js';
import { AccessDenied } from './errors.js';
import type { RevocationFeedHealth } from './revocation-feed.js';
import { createVerifier, type RequestParts } from './verifier.js';
import { ReceiptEmitter, type ReceiptStats } from './receipts.js';

export { ASYMMETRIC_ALGORITHMS, ConfigurationError, type ReplayCache, type ResolvedResourceServerOptions, type ResourceServerOptions } from './options.js';
export {
  allowWhenReadOnly,
  denyWhenImpersonated,
  isReadOnly,
  requireScopes,
  type Actor,
  type Guard,
  type GuardRefusal,
  type GuardRequest,
  type Impersonation,
  type TokenFacts,
  type VerifiedAccess,
} from './access.js';
export { MemoryReplayCache } from './dpop.js';
export { AccessDenied, type DenialCode, type ResourceErrorCode, type Scheme } from './errors.js';
export type { RevocationFeedHealth } from './revocation-feed.js';
export type { ReceiptStats } from './receipts.js';

/** The slice of a Koa context the middleware uses (typed structurally: no dependency on koa). */
export interface KoaLikeContext {
  readonly method: string;
  /** The full request URL (`ctx.href`). */
  readonly href: string;
  /** The client's address (honours `app.proxy`): its share of the introspection budget. */
  readonly ip?: string;
  get(field: string): string;
  state: Record<string, unknown>;
  status: number;
  body: unknown;
  set(field: string, value: string | string[]): void;
}

/** The slice of an Express request the middleware uses. */
export interface ExpressLikeRequest {
  readonly method: string;
  readonly protocol: string;
  readonly originalUrl: string;
  /** The client's address (honours `trust proxy`): its share of the introspection budget. */
  readonly ip?: string | undefined;
  get(name: string): string | undefined;
}

/** The slice of an Express response the middleware uses. */
export interface ExpressLikeResponse {
  /** `access` is set once the request is verified. */
  locals: { access?: VerifiedAccess };
  /** The status sent (read once the response finished, for activity receipts). */
  readonly statusCode?: number;
  /** Node's `finish` event: activity receipts are queued once the response is sent. */
  on?(event: 'finish', listener: () => void): unknown;
  status(code: number): unknown;
  setHeader(name: string, value: string | readonly string[]): unknown;
  json(body: unknown): unknown;
}

/** A resource server's request verification, for fetch handlers, Koa and Express alike. */
export interface ResourceServer {
  /**
   * Verifies the access token of a web-standard `Request` (Node, Next.js route handlers, Hono,
   * Deno, workers), then each guard. Resolves who is calling; rejects with {@link AccessDenied}
   * (answer it with `denied.toResponse()`). Reads headers only, never the body.
   */
  verifyRequest(request: Request, ...guards: Guard[]): Promise<VerifiedAccess>;
  /**
   * Koa middleware: puts {@link VerifiedAccess} on `ctx.state.access`, or answers the refusal
   * (401/403 with `WWW-Authenticate`, RFC 6750 §3). When an earlier one of this resource server (or
   * one with the same issuer, audience, mode, DPoP requirement, origin and feed) already verified
   * the request, only the guards run: `app.use(api.koa())`, then `api.koa(denyWhenImpersonated())` on
   * a route. A result made under other settings is never trusted: the request is verified again.
   */
  koa(...guards: Guard[]): (ctx: KoaLikeContext, next: () => Promise<unknown>) => Promise<void>;
  /** Express middleware: the same, with the result on `res.locals.access`. */
  express(...guards: Guard[]): (req: ExpressLikeRequest, res: ExpressLikeResponse, next: (err?: unknown) => void) => Promise<void>;
  /**
   * What the toolkit can tell a health check: `ok`, or `degraded` while the revocation feed is
   * stale (then JWTs are refused or introspected, as `revocationFeed.whenStale` says).
   */
  health(): ResourceServerHealth;
  /** Polls the revocation feed now; resolves once it answered (rejects if it failed). Nothing without a feed. */
  syncRevocations(): Promise<void>;
  /**
   * Activity receipts for a fetch handler (Koa and Express middleware report by themselves): call
   * once the answer's status is known. Queues and returns at once; nothing without `receipts`.
   */
  receipt(access: VerifiedAccess, request: Request, status: number): void;
  /** Stops the revocation feed's polling and sends the receipts still queued (for tests and graceful shutdown). */
  close(): void | Promise<void>;
}

/** The toolkit's health output. */
export interface ResourceServerHealth {
  readonly status: 'ok' | 'degraded';
  /** Present when `revocationFeed` is configured. */
  readonly revocationFeed?: RevocationFeedHealth & { readonly whenStale: 'refuse' | 'introspect' };
  /** Present when `receipts` is configured: queued, sent, dropped (queue full) and failed receipts. */
  readonly receipts?: ReceiptStats;
}

/** The presented token's value, from `Authorization: Bearer|DPoP <token>` (RFC 6750 §2.1, RFC 9449 §7.1). */
function presented(authorization: string | null | undefined): string | undefined {
  const match = /^(?:Bearer|DPoP) ([\x21-\x7E]+)$/i.exec(authorization ?? '');
  return match?.[1];
}

/**
 * Which settings verified an access: a result is reused by another middleware only when made under
 * the same issuer, audience, mode, DPoP requirement, origin and revocation feed — else verified again.
 */
const verifiedUnder = new WeakMap<object, string>();
/** DPoP proofs accepted per request (keyed by its `ctx.state` / `res.locals`). */
const proofsOf = new WeakMap<object, Set<string>>();

function isAccess(value: unknown): value is VerifiedAccess {
  return typeof value === 'object' && value !== null && 'subject' in value && 'token' in value;
}

/**
 * Creates the verification of access tokens this provider issued, for one API (docs/resource-server.md): JWTs per
 * RFC 9068 against the issuer's JWKS, opaque tokens (or all) by RFC 7662 introspection, DPoP per
 * RFC 9449. Options are validated at once; a bad one throws a `ConfigurationError` naming it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750
 * @see https://www.rfc-editor.org/rfc/rfc9068
 * @see https://www.rfc-editor.org/rfc/rfc9449
 */
export function createResourceServer(options: ResourceServerOptions): ResourceServer {
  const verifier = createVerifier(options);
  const resolved = verifier.options;
  const settings = JSON.stringify([
    resolved.issuer,
    [...resolved.audience].sort(),
    resolved.mode,
    resolved.dpop.required,
    resolved.publicOrigin ?? null,
    resolved.revocationFeed ? (resolved.revocationFeed.whenStale ?? 'refuse') : null,
  ]);

  const receiptOptions = resolved.receipts;
  const receipts = receiptOptions
    ? new ReceiptEmitter({
        endpoint: async () => receiptOptions.endpoint ?? `${resolved.issuer.replace(/\/$/, '')}/receipts`,
        clientId: receiptOptions.clientId ?? resolved.introspection!.clientId,
        clientSecret: receiptOptions.clientSecret ?? resolved.introspection!.clientSecret,
        batchSize: receiptOptions.batchSize,
        flushIntervalMs: receiptOptions.flushIntervalMs,
        maxQueue: receiptOptions.maxQueue,
        timeoutMs: receiptOptions.timeoutMs,
      })
    : undefined;
  /** One receipt per request, however many middlewares of this toolkit it passed. */
  const receipted = new WeakSet<object>();
  function receipt(access: unknown, request: { method: string; url: string; status: number; authorization: string | null | undefined }): void {
    if (!receipts || !isAccess(access) || receipted.has(access)) return;
    receipted.add(access);
    // The presented value is kept only for an opaque token (a JWT's receipt names its jti).
    const token = access.token.format === 'jwt' ? undefined : presented(request.authorization);
    receipts.record(access, { method: request.method, url: request.url, status: request.status, token });
  }

  async function settle(parts: Omit<RequestParts, 'acceptedProofs'>, state: { access?: unknown }, guards: readonly Guard[]): Promise<VerifiedAccess> {
    const known = state.access;
    if (isAccess(known) && verifiedUnder.get(known) === settings) return verifier.guard(known, guards, parts);
    let acceptedProofs = proofsOf.get(state);
    if (!acceptedProofs) proofsOf.set(state, (acceptedProofs = new Set()));
    const access = await verifier.verify({ ...parts, acceptedProofs }, guards);
    verifiedUnder.set(access, settings);
    return access;
  }

  return {
    health() {
      const feed = verifier.feedHealth();
      const counted = receipts ? { receipts: receipts.stats() } : {};
      if (!feed) return { status: 'ok', ...counted };
      return { status: feed.state === 'fresh' ? 'ok' : 'degraded', revocationFeed: { ...feed, whenStale: resolved.revocationFeed!.whenStale }, ...counted };
    },
    syncRevocations: () => verifier.syncRevocations(),
    receipt(access, request, status) {
      receipt(access, { method: request.method, url: request.url, status, authorization: request.headers.get('authorization') });
    },
    close() {
      verifier.close();
      return receipts?.close();
    },

    verifyRequest(request, ...guards) {
      return verifier.verify({ method: request.method, url: request.url, authorization: request.headers.get('authorization'), dpop: request.headers.get('dpop') }, guards);
    },

    koa(...guards) {
      return async function resourceServerKoa(ctx, next) {
        const parts: RequestParts = { method: ctx.method, url: ctx.href, authorization: ctx.get('authorization') || null, dpop: ctx.get('dpop') || null, address: ctx.ip };
        try {
          ctx.state.access = await settle(parts, ctx.state, guards);
        } catch (err) {
          if (!(err instanceof AccessDenied)) throw err;
          ctx.status = err.status;
          if (err.challenges.length) ctx.set('WWW-Authenticate', [...err.challenges]);
          ctx.set('Cache-Control', 'no-store');
          ctx.body = err.body();
          return;
        }
        await next();
        receipt(ctx.state.access, { method: ctx.method, url: ctx.href, status: ctx.status, authorization: parts.authorization });
      };
    },

    express(...guards) {
      return async function resourceServerExpress(req, res, next) {
        const host = req.get('host') ?? '';
        const parts: RequestParts = {
          method: req.method,
          url: `${req.protocol}://${host}${req.originalUrl}`,
          authorization: req.get('authorization') ?? null,
          dpop: req.get('dpop') ?? null,
          address: req.ip,
        };
        let access: VerifiedAccess;
        try {
          access = await settle(parts, res.locals, guards);
        } catch (err) {
          if (!(err instanceof AccessDenied)) {
            next(err);
            return;
          }
          res.status(err.status);
          if (err.challenges.length) res.setHeader('WWW-Authenticate', err.challenges);
          res.setHeader('Cache-Control', 'no-store');
          res.json(err.body());
          return;
        }
        res.locals.access = access;
        res.on?.('finish', () => receipt(access, { method: req.method, url: parts.url, status: res.statusCode ?? 200, authorization: parts.authorization }));
        next();
      };
    },
  };
}
