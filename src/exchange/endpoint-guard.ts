import { parse as parseQuery } from 'node:querystring';
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditRecorder, RequestFacts } from '../audit/recorder.js';
import { TOKEN_EXCHANGE_GRANT } from '../constants.js';
import type { RefusalRule } from '../errors.js';
import { basicClientId, tooManyRequests, verdictOf, type ClientGuessing } from './client-guessing.js';
import type { Limiter } from './rate-limit.js';
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

/** RFC 9110 §8.4: oidc-provider reads a body as it comes, so a content-coded one is refused here. */
const CONTENT_ENCODED = 'request bodies with a Content-Encoding are not supported; send the form uncompressed';

/** The `Content-Encoding` a request declares, other than `identity` (RFC 9110 §8.4.1), lower-cased. */
function contentEncoding(ctx: KoaContextWithOIDC): string | undefined {
  const declared = ctx.get('content-encoding').trim().toLowerCase();
  return declared === '' || declared === 'identity' ? undefined : declared;
}

/** The raw request body, at most oidc-provider's limit, or `undefined` beyond it or when unreadable. */
async function rawBody(ctx: KoaContextWithOIDC): Promise<Buffer | undefined> {
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
  } catch {
    return undefined;
  }
  return Buffer.concat(chunks);
}

/** A content-coded body decoded, within oidc-provider's limit; `undefined` when it is not what it claims. */
function decoded(encoding: string, raw: Buffer): Buffer | undefined {
  const limit = { maxOutputLength: BODY_LIMIT };
  const decoders: Record<string, ((buffer: Buffer) => Buffer)[]> = {
    gzip: [(b) => gunzipSync(b, limit)],
    'x-gzip': [(b) => gunzipSync(b, limit)],
    deflate: [(b) => inflateSync(b, limit), (b) => inflateRawSync(b, limit)],
    br: [(b) => brotliDecompressSync(b, limit)],
  };
  for (const decode of decoders[encoding] ?? []) {
    try {
      return decode(raw);
    } catch {
      // not this coding (or beyond the limit): try the next, else read it as sent
    }
  }
  return undefined;
}

/** The fields of a `multipart/form-data` body (RFC 7578), text parts only. */
function multipartFields(text: string, contentType: string): Record<string, string | string[]> | undefined {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) return undefined;
  const fields: Record<string, string | string[]> = {};
  for (const part of text.split(`--${boundary}`)) {
    const split = part.indexOf('\r\n\r\n');
    const name = split < 0 ? undefined : /\bname="([^"]*)"/i.exec(part.slice(0, split))?.[1];
    if (name === undefined) continue;
    const value = part.slice(split + 4).replace(/\r\n$/, '');
    const earlier = fields[name];
    fields[name] = earlier === undefined ? value : [earlier, value].flat();
  }
  return fields;
}

const unread = new WeakMap<object, Record<string, unknown> | undefined>();

/**
 * The request body as sent, when oidc-provider refused it unread (JSON, multipart) or before it
 * reads it (a content-coded body, decoded): at most its own limit, read once per request.
 */
async function unreadBody(ctx: KoaContextWithOIDC): Promise<Record<string, unknown> | undefined> {
  if (unread.has(ctx)) return unread.get(ctx);
  let parsed: Record<string, unknown> | undefined;
  const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
  if (oidc?.body === undefined && ctx.method === 'POST' && ctx.req.readable) {
    const raw = await rawBody(ctx);
    const encoding = contentEncoding(ctx);
    const text = raw === undefined ? undefined : ((encoding ? decoded(encoding, raw) : undefined) ?? raw).toString('utf8');
    try {
      const value: unknown =
        text === undefined ? undefined : ctx.is('json') ? JSON.parse(text) : ctx.is('multipart') ? multipartFields(text, ctx.get('content-type')) : parseQuery(text);
      parsed = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
    } catch {
      parsed = undefined;
    }
  }
  unread.set(ctx, parsed);
  return parsed;
}

/** What the request asked for: the parameters oidc-provider assembled, else the body as sent. */
async function requestParams(ctx: KoaContextWithOIDC): Promise<Record<string, unknown>> {
  const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
  return (oidc?.params as Record<string, unknown> | undefined) ?? (oidc?.body as Record<string, unknown> | undefined) ?? (await unreadBody(ctx)) ?? {};
}

/**
 * Whether a refused token-endpoint request asked for token exchange: its `grant_type` (once or
 * repeated), read from the parsed form or — when oidc-provider refused the body unread — the body.
 */
async function asksForTokenExchange(ctx: KoaContextWithOIDC): Promise<boolean> {
  const given = (source: Record<string, unknown> | undefined) => [source?.grant_type].flat().includes(TOKEN_EXCHANGE_GRANT);
  const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
  return given(oidc?.params as Record<string, unknown> | undefined) || given(oidc?.body as Record<string, unknown> | undefined) || given(await unreadBody(ctx));
}

/** oidc-provider names the client before checking its credentials: any answer but invalid_client proves them. */
function clientAuthenticated(ctx: KoaContextWithOIDC): boolean {
  return ctx.oidc?.client !== undefined && (ctx.body as ErrorBody | undefined)?.error !== 'invalid_client';
}

/** A refusal for missing or wrong client authentication (RFC 6749 §5.2 `invalid_client`). */
function clientAuthenticationFailed(ctx: KoaContextWithOIDC): boolean {
  return (ctx.body as ErrorBody | undefined)?.error === 'invalid_client';
}

/** The endpoints the guard watches, as paths of the provider's own app (`routes` of its configuration). */
export interface GuardedPaths {
  readonly token: string;
  readonly introspection: string;
  readonly revocation: string;
}

/**
 * Koa middleware around the provider (installed with `provider.use`), for the token, introspection
 * and revocation endpoints:
 * - every one of them: refusals for wrong or missing client authentication (`invalid_client`, at
 *   any grant) are counted per IP address; over the budget they are answered 429 with
 *   `Retry-After`, and until the window ends so is every request from that address for the client
 *   its Basic header names (the whole address without one), before its credentials are checked —
 *   so guessing a secret learns nothing more (docs/policy.md "Rate limits"); a body with a `Content-Encoding` is refused `invalid_request` (RFC 9110 §8.4), since
 *   oidc-provider would read it as it comes;
 * - token exchange: answers a client lacking the grant with `unauthorized_client` and a request
 *   without client authentication with `invalid_client` (RFC 6749 §5.2), where oidc-provider says
 *   `invalid_request`; audits every refusal the grant handler never saw (repeated `grant_type`, a
 *   body that is not a form, a content-coded or multipart body); and counts every refusal without
 *   client authentication against the address — one record per window says it went over;
 * - introspection and revocation: `invalid_client` without client authentication (RFC 6749 §5.2),
 *   and a budget per authenticated client and endpoint, answered 429 with `Retry-After` beyond it.
 */
export function createEndpointGuard(deps: {
  recorder: AuditRecorder;
  wasAudited: (ctx: KoaContextWithOIDC) => boolean;
  requestFacts: (ctx: KoaContextWithOIDC) => RequestFacts;
  paths: GuardedPaths;
  /** Refusals without client authentication, per IP address and per client named (shared with the resource servers' routes). */
  guessing: ClientGuessing;
  /** Introspection and revocation requests, per client and endpoint. */
  perClient: Limiter;
}) {
  const routeOf = (ctx: KoaContextWithOIDC): keyof GuardedPaths | undefined =>
    ctx.method !== 'POST' ? undefined : (Object.keys(deps.paths) as (keyof GuardedPaths)[]).find((route) => deps.paths[route] === ctx.path);
  async function record(ctx: KoaContextWithOIDC, rule: RefusalRule): Promise<void> {
    const params = (await requestParams(ctx)) as Record<string, string | undefined>;
    try {
      await deps.recorder.record(
        'exchange.denied',
        {
          outcome: ctx.status >= 500 ? 'error' : 'denied',
          rule,
          client_id: ctx.oidc?.client?.clientId ?? (typeof params.client_id === 'string' ? params.client_id : basicClientId(ctx)),
          reason: auditableReason(params),
        },
        deps.requestFacts(ctx),
      );
    } catch {
      // Nothing was issued; the sink reports its own failure.
    }
  }

  /** Counts a refusal without client authentication (a wrong secret against the client named too); over the budget, a 429. */
  const countUnauthenticated = (ctx: KoaContextWithOIDC) => deps.guessing.count(ctx, clientAuthenticationFailed(ctx));

  /** A refused token-exchange request: audited, and counted against the address when no client was proven. */
  async function refuseExchange(ctx: KoaContextWithOIDC): Promise<void> {
    if (!clientAuthenticated(ctx)) {
      const verdict = await countUnauthenticated(ctx);
      if (!verdict.allowed) {
        if (verdict.firstRefused) await record(ctx, 'unauthenticated_rate_limited');
        return;
      }
    }
    await record(ctx, ruleOf(ctx.body as ErrorBody, ctx.status));
  }

  async function guardToken(ctx: KoaContextWithOIDC): Promise<void> {
    if (ctx.status < 400) return;
    if (await asksForTokenExchange(ctx)) {
      rewrite(ctx);
      if (!deps.wasAudited(ctx)) await refuseExchange(ctx);
    } else if (clientAuthenticationFailed(ctx)) {
      await countUnauthenticated(ctx);
    }
  }

  async function guardClientEndpoint(ctx: KoaContextWithOIDC, route: 'introspection' | 'revocation'): Promise<void> {
    if (ctx.status >= 400) rewrite(ctx);
    if (clientAuthenticationFailed(ctx)) {
      await countUnauthenticated(ctx);
      return;
    }
    if (!clientAuthenticated(ctx) || ctx.status >= 500) return;
    const verdict = await verdictOf(deps.perClient, `${route} ${ctx.oidc.client!.clientId}`);
    if (!verdict.allowed) tooManyRequests(ctx, verdict, `too many ${route} requests by this client; retry later`);
  }

  /** RFC 9110 §8.4: a content-coded body, refused before oidc-provider reads it as if it were plain. */
  async function refuseContentEncoded(ctx: KoaContextWithOIDC, route: keyof GuardedPaths): Promise<void> {
    const asked = route === 'token' && (await asksForTokenExchange(ctx));
    ctx.status = 400;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { error: 'invalid_request', error_description: CONTENT_ENCODED };
    if (asked) await refuseExchange(ctx);
  }

  return async function endpointGuard(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    const guarded = routeOf(ctx);
    if (guarded) {
      if (await deps.guessing.blocked(ctx)) return;
      if (contentEncoding(ctx)) {
        await refuseContentEncoded(ctx, guarded);
        return;
      }
    }
    await next();
    if (!('oidc' in ctx) || !ctx.oidc) return;
    const route = ctx.oidc.route;
    if (route === 'token') await guardToken(ctx);
    else if (route === 'introspection' || route === 'revocation') await guardClientEndpoint(ctx, route);
  };
}
