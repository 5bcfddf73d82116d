import { parse as parseQuery } from 'node:querystring';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditRecorder, RequestFacts } from '../audit/recorder.js';
import { TOKEN_EXCHANGE_GRANT } from '../constants.js';
import type { RefusalRule } from '../errors.js';
import type { Limiter, LimitVerdict } from './rate-limit.js';
import { auditableReason } from './request.js';

type Next = () => Promise<unknown>;

interface ErrorBody {
  error?: unknown;
  error_description?: unknown;
}

/** oidc-provider's own limit on a request body (it refuses anything larger). */
const BODY_LIMIT = 56 * 1024;

/**
 * oidc-provider answers these with `invalid_request`; RFC 6749 §5.2 names `unauthorized_client`
 * and `invalid_client` (400: no Authorization header was used).
 */
const REWRITES: ReadonlyMap<string, { error: string; error_description: string }> = new Map([
  ['requested grant type is not allowed for this client', { error: 'unauthorized_client', error_description: 'this client is not allowed to use the token-exchange grant' }],
  ['no client authentication mechanism provided', { error: 'invalid_client', error_description: 'client authentication is required' }],
]);

/**
 * Refusals oidc-provider makes before the grant handler runs (client authentication, duplicate
 * parameters, a client without the grant, a body that is not a form), mapped to the rule the audit
 * record names.
 */
function ruleOf(body: ErrorBody, status: number): RefusalRule {
  if (body.error === 'unauthorized_client') return 'client_grant_not_allowed';
  if (body.error === 'invalid_client') return 'client_authentication_failed';
  if (typeof body.error_description === 'string' && body.error_description.includes('must not be provided twice')) return 'parameter_duplicated';
  if (status >= 500) return 'server_error';
  return 'request_malformed';
}

function rewrite(ctx: KoaContextWithOIDC): void {
  const body = (typeof ctx.body === 'object' && ctx.body !== null ? ctx.body : {}) as ErrorBody;
  const replacement = body.error === 'invalid_request' && typeof body.error_description === 'string' ? REWRITES.get(body.error_description) : undefined;
  if (replacement) {
    ctx.status = 400;
    ctx.body = { ...replacement };
  }
}

/** RFC 6585 §4: 429 with `Retry-After`, in the OAuth error shape of the endpoint. */
function tooManyRequests(ctx: KoaContextWithOIDC, verdict: Extract<LimitVerdict, { allowed: false }>, description: string): void {
  ctx.status = 429;
  ctx.remove('WWW-Authenticate');
  ctx.set('Retry-After', String(verdict.retryAfter));
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: 'invalid_request', error_description: description };
}

/** The request body as sent, when oidc-provider refused it unread (e.g. JSON): at most its own limit. */
async function unreadBody(ctx: KoaContextWithOIDC): Promise<Record<string, unknown> | undefined> {
  if (ctx.oidc.body !== undefined || ctx.method !== 'POST' || !ctx.req.readable) return undefined;
  if ((ctx.request.length ?? 0) > BODY_LIMIT) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    // Stop reading at the limit without destroying the request: the refusal still has to be sent.
    for await (const chunk of ctx.req.iterator({ destroyOnReturn: false })) {
      size += (chunk as Buffer).length;
      if (size > BODY_LIMIT) return undefined;
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    const parsed: unknown = ctx.is('json') ? JSON.parse(text) : parseQuery(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a refused token-endpoint request asked for token exchange: its `grant_type` (once or
 * repeated), read from the parsed form or — when oidc-provider refused the body unread — the body.
 */
async function asksForTokenExchange(ctx: KoaContextWithOIDC): Promise<boolean> {
  const given = (source: Record<string, unknown> | undefined) => [source?.grant_type].flat().includes(TOKEN_EXCHANGE_GRANT);
  const params = ctx.oidc.params as Record<string, unknown> | undefined;
  return given(params) || given(ctx.oidc.body as Record<string, unknown> | undefined) || given(await unreadBody(ctx));
}

/** oidc-provider names the client before checking its credentials: any answer but invalid_client proves them. */
function clientAuthenticated(ctx: KoaContextWithOIDC): boolean {
  return ctx.oidc.client !== undefined && (ctx.body as ErrorBody | undefined)?.error !== 'invalid_client';
}

async function verdictOf(limiter: Limiter, key: string): Promise<LimitVerdict> {
  try {
    return await limiter.consume(key);
  } catch {
    return { allowed: true }; // the limiter's store failed: the answer already given stands
  }
}

/**
 * Koa middleware around the provider (installed with `provider.use`), for the token, introspection
 * and revocation endpoints:
 * - token exchange: answers a client lacking the grant with `unauthorized_client` and a request
 *   without client authentication with `invalid_client` (RFC 6749 §5.2), where oidc-provider says
 *   `invalid_request`; audits every refusal the grant handler never saw (repeated `grant_type`, a
 *   body that is not a form); and counts refusals without client authentication per IP address —
 *   over the budget they are answered 429 with `Retry-After`, and one record per window says so;
 * - introspection and revocation: `invalid_client` without client authentication (RFC 6749 §5.2),
 *   and a budget per authenticated client and endpoint, answered 429 with `Retry-After` beyond it.
 */
export function createEndpointGuard(deps: {
  recorder: AuditRecorder;
  wasAudited: (ctx: KoaContextWithOIDC) => boolean;
  requestFacts: (ctx: KoaContextWithOIDC) => RequestFacts;
  /** Token-exchange refusals without client authentication, per IP. */
  unauthenticated: Limiter;
  /** Introspection and revocation requests, per client and endpoint. */
  perClient: Limiter;
}) {
  async function record(ctx: KoaContextWithOIDC, rule: RefusalRule): Promise<void> {
    const params = (ctx.oidc.params ?? {}) as Record<string, string | undefined>;
    try {
      await deps.recorder.record(
        'exchange.denied',
        {
          outcome: ctx.status >= 500 ? 'error' : 'denied',
          rule,
          client_id: ctx.oidc.client?.clientId ?? (typeof params.client_id === 'string' ? params.client_id : undefined),
          reason: auditableReason(params),
        },
        deps.requestFacts(ctx),
      );
    } catch {
      // Nothing was issued; the sink reports its own failure.
    }
  }

  async function guardTokenExchange(ctx: KoaContextWithOIDC): Promise<void> {
    if (ctx.status < 400 || !(await asksForTokenExchange(ctx))) return;
    rewrite(ctx);
    if (deps.wasAudited(ctx)) return;
    if (!clientAuthenticated(ctx)) {
      const verdict = await verdictOf(deps.unauthenticated, `ip ${ctx.ip}`);
      if (!verdict.allowed) {
        tooManyRequests(ctx, verdict, 'too many unauthenticated requests from this address; retry later');
        if (verdict.firstRefused) await record(ctx, 'unauthenticated_rate_limited');
        return;
      }
    }
    await record(ctx, ruleOf(ctx.body as ErrorBody, ctx.status));
  }

  async function guardClientEndpoint(ctx: KoaContextWithOIDC, route: 'introspection' | 'revocation'): Promise<void> {
    if (ctx.status >= 400) rewrite(ctx);
    if (!clientAuthenticated(ctx) || ctx.status >= 500) return;
    const verdict = await verdictOf(deps.perClient, `${route} ${ctx.oidc.client!.clientId}`);
    if (!verdict.allowed) tooManyRequests(ctx, verdict, `too many ${route} requests by this client; retry later`);
  }

  return async function endpointGuard(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    await next();
    if (!('oidc' in ctx) || !ctx.oidc) return;
    const route = ctx.oidc.route;
    if (route === 'token') await guardTokenExchange(ctx);
    else if (route === 'introspection' || route === 'revocation') await guardClientEndpoint(ctx, route);
  };
}
