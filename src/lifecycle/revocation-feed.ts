import { importJWK, SignJWT, type JWK } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { ClientGuessing } from '../exchange/client-guessing.js';
import type { Logger } from '../observability/logger.js';
import type { RevocationLog } from '../store/revocations.js';
import { authenticatedClient, refuse as refuseWith, resourceServerRoute } from './resource-server-route.js';


/** The media type of the feed's answer: a JWS signed with the provider's key (RFC 7515 §7.1). */
export const REVOCATION_FEED_TYPE = 'revocations+jwt';

/** Revocations looked at per answer; a reader behind asks again at once (`more`). */
const PAGE = 1000;
/** How long a signed answer is good for: the reader refuses an older one. */
const ANSWER_LIFETIME_SECONDS = 60;

interface Dependencies {
  readonly provider: Provider;
  readonly log: RevocationLog;
  /** The provider's signing keys (private JWKs, `configuration.jwks`). */
  readonly jwks: { keys: JWK[] };
  /** The audiences a client serves as a resource server (`resourceServers[…].clients`); none: not one. */
  readonly servedBy: (clientId: string) => readonly string[];
  readonly logger: Logger;
  /** Client-secret guessing, shared with the token endpoints (docs/policy.md "Rate limits"). */
  readonly guessing: ClientGuessing;
  readonly path?: string;
}

/** The JWS algorithm a private JWK signs with (its own `alg`, else the usual one for its type). */
function algorithmOf(jwk: JWK): string | undefined {
  if (jwk.alg) return jwk.alg;
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC') return ({ 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' } as Record<string, string>)[jwk.crv ?? ''];
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  return undefined;
}

/**
 * The revocation feed (docs/resource-server.md, "The revocation feed"): `GET /revocations?after=<cursor>`
 * answers, to a client registered as a resource server and authenticated with HTTP Basic (RFC 6749
 * §2.3.1), the revocations of JWT access tokens for the audiences it serves, in the order they
 * happened on any instance, as a JWS signed with the provider's key: `{ iss, aud, iat, exp, cursor,
 * reset, more, revoked: [{ jti, exp }] }`. Without a cursor, or with one of a store that lost its
 * data since, the reader gets every live revocation and `reset: true`. Only revocations of tokens
 * not yet expired are kept, so the feed is bounded by the live tokens.
 */
export function createRevocationFeed(deps: Dependencies) {
  const path = deps.path ?? '/revocations';
  const signer = (async () => {
    const jwk = deps.jwks.keys.find((k) => k.d !== undefined && (k.use === undefined || k.use === 'sig') && algorithmOf(k) !== undefined);
    if (!jwk) throw new Error('no signing key for the revocation feed');
    const alg = algorithmOf(jwk)!;
    return { key: await importJWK(jwk, alg), alg, kid: jwk.kid };
  })();
  signer.catch(() => undefined);

  const refuse = (ctx: KoaContextWithOIDC, status: number, error: string, description: string) => refuseWith(ctx, status, error, description, 'revocations');

  async function answer(ctx: KoaContextWithOIDC): Promise<void> {
    const clientId = await authenticatedClient(deps.provider, ctx.get('authorization') || undefined);
    if (!clientId) return refuse(ctx, 401, 'invalid_client', 'client authentication failed');
    const served = deps.servedBy(clientId);
    if (served.length === 0) return refuse(ctx, 403, 'unauthorized_client', 'this client is not a resource server of this provider');
    const afterParams = ctx.request.URL.searchParams.getAll('after');
    if (afterParams.length > 1) return refuse(ctx, 400, 'invalid_request', 'after is given more than once');
    const after = afterParams[0];
    let cursor: { epoch: string; seq: number } | undefined;
    if (after !== undefined) {
      const match = /^([\w-]{1,64})\.(\d{1,15})$/.exec(after);
      if (!match) return refuse(ctx, 400, 'invalid_request', 'after is not a cursor this feed gave out');
      cursor = { epoch: match[1]!, seq: Number(match[2]) };
    }

    const now = Date.now();
    let read = await deps.log.read(cursor?.seq ?? 0, PAGE, now);
    // A cursor of another epoch: the store lost its data and numbers anew. Everything live, again.
    const reset = cursor === undefined || cursor.epoch !== read.epoch;
    if (reset && cursor !== undefined && cursor.seq !== 0) read = await deps.log.read(0, PAGE, now);
    const revoked = read.tokens
      .filter((t) => t.exp * 1000 > now && (t.audience === undefined || t.audience.some((aud) => served.includes(aud))))
      .map((t) => ({ jti: t.jti, exp: t.exp }));
    const { key, alg, kid } = await signer;
    const iat = Math.floor(now / 1000);
    const jws = await new SignJWT({ cursor: `${read.epoch}.${read.next}`, reset, more: read.more, revoked })
      .setProtectedHeader({ alg, typ: REVOCATION_FEED_TYPE, ...(kid ? { kid } : {}) })
      .setIssuer(deps.provider.issuer)
      .setAudience(clientId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ANSWER_LIFETIME_SECONDS)
      .sign(key);
    ctx.status = 200;
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'application/jwt';
    ctx.body = jws;
  }

  return resourceServerRoute({ path, method: 'GET', realm: 'revocations', logger: deps.logger, guessing: deps.guessing, answer });
}
