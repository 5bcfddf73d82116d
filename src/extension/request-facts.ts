import { randomUUID } from 'node:crypto';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { RequestFacts } from '../audit/recorder.js';

const REQUEST_ID_HEADER = 'x-request-id';
const INTERNAL_REQUEST: RequestFacts = { ip: undefined, userAgent: undefined, requestId: 'library-call' };

const factsOfRequest = new WeakMap<object, RequestFacts>();

/**
 * The request facts every audit record and log line of one request shares (one request id, the
 * caller's `x-request-id` when well-formed). A library call (no context) gets a fresh id.
 */
export function requestFacts(ctx: KoaContextWithOIDC | undefined): RequestFacts {
  if (!ctx?.get) return { ...INTERNAL_REQUEST, requestId: randomUUID() };
  const known = factsOfRequest.get(ctx);
  if (known) return known;
  const given = ctx.get(REQUEST_ID_HEADER);
  const facts = {
    ip: ctx.ip || undefined,
    userAgent: ctx.get('user-agent') || undefined,
    requestId: /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID(),
  };
  factsOfRequest.set(ctx, facts);
  return facts;
}

/** The facts of a library call (`exchange.revoke(…)`, `exchange.mintTicket(…)`): no request, a fresh id. */
export function libraryCall(): RequestFacts {
  return requestFacts(undefined);
}
