import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { AuditRecorder, RequestFacts } from '../audit/recorder.js';
import { actorChain, readAct } from '../claims/act.js';
import { audienceOf } from '../exchange/targets.js';
import { auditableTokenId } from '../exchange/token-ids.js';
import type { ClientGuessing } from '../exchange/client-guessing.js';
import type { Logger } from '../observability/logger.js';
import type { ImpersonationStore } from '../store/impersonations.js';
import { authenticatedClient, refuse as refuseWith, resourceServerRoute } from './resource-server-route.js';


/** Receipts per batch; a larger batch is refused whole (the toolkit sends at most this many). */
export const MAX_RECEIPTS_PER_BATCH = 500;
/** A batch's body at most (read only once the resource server authenticated); the toolkit keeps under it. */
export const MAX_RECEIPTS_BODY_BYTES = 1024 * 1024;

/** One receipt as a resource server sends it (docs/beyond-impersonation.md "Activity receipts"). */
interface Receipt {
  /** A JWT access token's `jti`, or */
  readonly jti?: unknown;
  /** an opaque access token's value (resolved like introspection; never recorded). */
  readonly token?: unknown;
  readonly method?: unknown;
  readonly path?: unknown;
  readonly status?: unknown;
  /** ISO 8601: when the API accepted the request. */
  readonly at?: unknown;
}

/** Why one receipt of a batch was not recorded. */
type Refusal = 'malformed' | 'unknown_token' | 'not_impersonated' | 'wrong_audience';

interface Dependencies {
  readonly provider: Provider;
  readonly impersonations: ImpersonationStore;
  readonly recorder: AuditRecorder;
  /** The audiences a client serves as a resource server (`resourceServers[…].clients`). */
  readonly servedBy: (clientId: string) => readonly string[];
  readonly requestFacts: (ctx: KoaContextWithOIDC) => RequestFacts;
  readonly logger: Logger;
  /** Client-secret guessing, shared with the token endpoints (docs/policy.md "Rate limits"). */
  readonly guessing: ClientGuessing;
  readonly path?: string;
}

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,16}$/;

/**
 * Activity receipts, the provider's side (docs/beyond-impersonation.md "Activity receipts"):
 * `POST /receipts` takes, from a client registered as a resource server (HTTP Basic, RFC 6749
 * §2.3.1), a batch of requests it accepted under an `act` token, and writes one chained `api.request`
 * audit record each — the impersonation's `token_id`, the `act` chain, method, path (no query),
 * status, the API's audience, when. A receipt is recorded only for a live token of this provider
 * that acts for someone and is meant for an audience the caller serves: a resource server cannot
 * write what happened at another. Unlike the signed per-hop `actor_receipts` of
 * draft-mcguinness-oauth-actor-receipts (provenance of who added each `act` hop), these record what
 * was done with a token, in the provider's own audit chain.
 */
export function createReceiptsEndpoint(deps: Dependencies) {
  const path = deps.path ?? '/receipts';

  const refuse = (ctx: KoaContextWithOIDC, status: number, error: string, description: string) => refuseWith(ctx, status, error, description, 'receipts');

  async function body(ctx: KoaContextWithOIDC): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of ctx.req) {
      size += (chunk as Buffer).length;
      if (size > MAX_RECEIPTS_BODY_BYTES) return undefined;
      chunks.push(chunk as Buffer);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return undefined;
    }
  }

  /** The live facts of the token a receipt names: its grant's impersonation record and audiences. */
  async function tokenFacts(receipt: Receipt): Promise<{ tokenId: string; grantId: string; audience: string[]; act: unknown } | undefined> {
    if (typeof receipt.jti === 'string' && receipt.jti.length <= 256) {
      const grantId = await deps.impersonations.jwtGrant(receipt.jti);
      if (!grantId) return undefined;
      const grant = await deps.provider.Grant.find(grantId);
      if (!grant) return undefined;
      const record = await deps.impersonations.get(grantId);
      const audience = Object.keys((grant as unknown as { resources?: Record<string, unknown> }).resources ?? {});
      return { tokenId: auditableTokenId(receipt.jti, 'jwt'), grantId, audience, act: record ? actOf(record.actors) : undefined };
    }
    if (typeof receipt.token === 'string' && receipt.token.length <= 4096) {
      const token = await deps.provider.AccessToken.find(receipt.token).catch(() => undefined);
      if (!token || token.isExpired || !token.grantId) return undefined;
      const extra = (token as unknown as { extra?: Record<string, unknown> }).extra;
      return { tokenId: auditableTokenId(receipt.token, 'opaque'), grantId: token.grantId, audience: audienceOf(token.aud), act: extra?.act };
    }
    return undefined;
  }

  function actOf(actors: readonly string[]): unknown {
    return actors.reduceRight<Record<string, unknown> | undefined>((inner, sub) => ({ sub, ...(inner ? { act: inner } : {}) }), undefined);
  }

  type Facts = Awaited<ReturnType<typeof tokenFacts>>;
  type Known = { facts: Facts; record: Awaited<ReturnType<ImpersonationStore['get']>> };

  /** A token's facts, read once per batch (an API's receipts mostly repeat a few tokens). */
  function cached(cache: Map<string, Promise<Known>>, receipt: Receipt): Promise<Known> {
    const key = typeof receipt.jti === 'string' ? `j:${receipt.jti}` : typeof receipt.token === 'string' ? `t:${receipt.token}` : '';
    let known = cache.get(key);
    if (!known) {
      known = tokenFacts(receipt).then(async (facts) => ({ facts, record: facts ? await deps.impersonations.get(facts.grantId) : undefined }));
      cache.set(key, known);
    }
    return known;
  }

  async function one(receipt: Receipt, clientId: string, served: readonly string[], facts: RequestFacts, cache: Map<string, Promise<Known>>): Promise<Refusal | undefined> {
    const { method, path: requestPath, status, at } = receipt;
    const time = typeof at === 'string' ? Date.parse(at) : NaN;
    if (
      typeof method !== 'string' || !METHOD.test(method) ||
      typeof requestPath !== 'string' || !requestPath.startsWith('/') || requestPath.includes('?') || requestPath.length > 1024 ||
      typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599 ||
      Number.isNaN(time)
    ) {
      return 'malformed';
    }
    const { facts: token, record } = await cached(cache, receipt);
    if (!token) return 'unknown_token';
    const chain = actorChain(readAct(token.act));
    if (chain.length === 0) return 'not_impersonated';
    const audience = token.audience.filter((aud) => served.includes(aud));
    if (audience.length === 0) return 'wrong_audience';
    const acceptedAt = new Date(time).toISOString();
    await deps.recorder.record(
      'api.request',
      {
        outcome: 'granted',
        actor: chain[0]!.sub,
        actors: chain.map((a) => a.sub),
        subject: record?.subject,
        client_id: clientId,
        token_id: token.tokenId,
        audience,
        method,
        path: requestPath,
        status,
        at: acceptedAt,
        reason: record?.reason,
      },
      facts,
    );
    // What was done, by impersonation: the subject's page and the console list it (the token's own
    // grant, and the grants it came from, so a passed-on token's requests show under its start).
    const entry = { method, path: requestPath, status, at: acceptedAt, audience, actor: chain[0]!.sub };
    await Promise.all([token.grantId, ...(record?.sources ?? [])].map((grantId) => deps.impersonations.addActivity(grantId, entry)));
    return undefined;
  }

  async function answer(ctx: KoaContextWithOIDC): Promise<void> {
    const clientId = await authenticatedClient(deps.provider, ctx.get('authorization') || undefined);
    if (!clientId) return refuse(ctx, 401, 'invalid_client', 'client authentication failed');
    const served = deps.servedBy(clientId);
    if (served.length === 0) return refuse(ctx, 403, 'unauthorized_client', 'this client is not a resource server of this provider');
    if (!ctx.is('application/json')) return refuse(ctx, 415, 'invalid_request', 'send application/json');
    const parsed = (await body(ctx)) as { receipts?: unknown } | undefined;
    const receipts = parsed?.receipts;
    if (!Array.isArray(receipts)) return refuse(ctx, 400, 'invalid_request', 'send { "receipts": [...] }');
    if (receipts.length > MAX_RECEIPTS_PER_BATCH) return refuse(ctx, 413, 'invalid_request', `at most ${MAX_RECEIPTS_PER_BATCH} receipts per batch`);
    const facts = deps.requestFacts(ctx);
    const cache = new Map<string, Promise<Known>>();
    // The receipts of a batch are recorded together: their audit records share group commits.
    const errors = await Promise.all(
      receipts.map((receipt: unknown) => (typeof receipt === 'object' && receipt !== null ? one(receipt as Receipt, clientId, served, facts, cache) : 'malformed')),
    );
    const refused = errors.flatMap((error, index) => (error ? [{ index, error }] : []));
    ctx.status = 200;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { accepted: receipts.length - refused.length, refused };
  }

  return resourceServerRoute({ path, method: 'POST', realm: 'receipts', logger: deps.logger, guessing: deps.guessing, answer });
}
