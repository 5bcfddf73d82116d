import { decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import { TokenType } from '../constants.js';
import { NO_GRANT } from '../store/impersonations.js';
import { invalidRequest } from '../errors.js';
import { readAct, type ActClaim } from '../claims/act.js';
import { idTokenRecordId } from './token-ids.js';
import { audienceOf } from './targets.js';
import type { IssuerKeys } from './keys.js';
import type { ActorTokenType, SubjectTokenType } from './request.js';

/** Impersonation facts a token issued by this extension carries (also shown by introspection). */
export interface ImpersonationFacts {
  readonly id: string;
  readonly reason?: string | undefined;
  readonly started_at: number;
  /** `read`: a read-only impersonation (absent: full). Kept by every later exchange: never widened. */
  readonly mode?: 'read' | undefined;
}

/** A token this provider stored (opaque access token or client credentials), as the lookup returns it. */
export interface StoredToken {
  readonly kind: 'AccessToken' | 'ClientCredentials';
  readonly jti: string;
  readonly accountId: string | undefined;
  readonly clientId: string;
  readonly aud: string | string[] | undefined;
  readonly scope: string | undefined;
  readonly exp: number;
  readonly extra: Record<string, unknown> | undefined;
  readonly grantId: string | undefined;
  readonly sessionUid: string | undefined;
  /** RFC 9449 binding: the thumbprint of the key the token is bound to. */
  readonly jkt: string | undefined;
}

/** The narrow view of oidc-provider the verifiers need. */
export interface IssuedTokenLookup {
  /** An active opaque access token or client-credentials token whose grant still stands, else `undefined`. */
  findActiveToken(value: string): Promise<StoredToken | undefined>;
  /** Records a DPoP proof `jti` for the client; false when it was seen before (RFC 9449 §11.1). */
  uniqueProof(clientId: string, jti: string, expiresAt: number): Promise<boolean>;
  /** The grant of a JWT access token this extension recorded, while it is live. */
  jwtGrant(jti: string): Promise<string | undefined>;
  /** Whether the grant still exists. */
  grantExists(grantId: string): Promise<boolean>;
  /** Every scope the grant holds (OpenID and resource scopes), or `undefined` once it is gone. */
  grantScopes(grantId: string): Promise<readonly string[] | undefined>;
  /** The time the session behind an access token authenticated the user, if known. */
  sessionAuthTime(sessionUid: string): Promise<number | undefined>;
}

/** A token that passed verification: who it names and what it allows. */
export interface VerifiedToken {
  /** `user` tokens name an account; `client` tokens name a client (client credentials). */
  readonly principal: 'user' | 'client';
  readonly issuer: string;
  readonly ownIssuer: boolean;
  readonly sub: string;
  /** The client this provider issued the token to, for tokens of this provider. */
  readonly clientId: string | undefined;
  readonly audience: readonly string[];
  readonly scopes: readonly string[] | undefined;
  readonly act: ActClaim | undefined;
  /**
   * Whether the token claims to act for someone (an `act` or `impersonation` claim, well-formed or
   * not): such a token must be one this provider can revoke before anything derives from it.
   */
  readonly carriesAct: boolean;
  readonly mayAct: Record<string, unknown> | undefined;
  readonly expiresAt: number;
  readonly authTime: number | undefined;
  readonly impersonation: ImpersonationFacts | undefined;
  readonly claims: JWTPayload | undefined;
  /** RFC 9449 §6: the JWK thumbprint a DPoP-bound token is bound to. */
  readonly jkt: string | undefined;
  /** The grant behind a token of this provider, when known (stored tokens, recorded JWTs). */
  readonly grantId: string | undefined;
  /** An access token (opaque or RFC 9068), as opposed to an ID token or another JWT. */
  readonly isAccessToken: boolean;
  /** The user's delegation to an agent this (stored) subject token was collected for. */
  readonly delegationId?: string | undefined;
  /**
   * For a token of this provider: whether this provider recorded it when it issued it, so that its
   * grant and scope are known and its revocation shows. Policy refuses an untracked one.
   */
  readonly tracked: boolean;
}

export interface VerifyContext {
  readonly keys: IssuerKeys;
  readonly lookup: IssuedTokenLookup;
  readonly ownIssuer: string;
  readonly clockTolerance: number;
  /** Whether policy needs the actor's authentication time (an extra session read per token). */
  readonly needsAuthTime: boolean;
}

type Role = 'actor' | 'subject';

function readImpersonation(value: unknown): ImpersonationFacts | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { id, reason, started_at: startedAt } = value as Record<string, unknown>;
  if (typeof id !== 'string' || typeof startedAt !== 'number') return undefined;
  const { mode } = value as Record<string, unknown>;
  return { id, started_at: startedAt, ...(typeof reason === 'string' ? { reason } : {}), ...(mode === 'read' ? { mode: 'read' as const } : {}) };
}

function readMayAct(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function readJkt(cnf: unknown): string | undefined {
  const jkt = typeof cnf === 'object' && cnf !== null ? (cnf as Record<string, unknown>).jkt : undefined;
  return typeof jkt === 'string' ? jkt : undefined;
}

function looksLikeJwt(value: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(value);
}

function invalidToken(role: Role, detail: string) {
  return role === 'actor'
    ? invalidRequest('actor_token_invalid', 'actor_token is invalid, expired or revoked', detail)
    : invalidRequest('subject_token_invalid', 'subject_token is invalid, expired or revoked', detail);
}

/** An opaque access token (or client-credentials token) this provider stored. */
async function verifyStoredToken(value: string, role: Role, context: VerifyContext): Promise<VerifiedToken> {
  const stored = await context.lookup.findActiveToken(value);
  if (!stored) throw invalidToken(role, 'no active access token with that value');
  const extra = stored.extra ?? {};
  const authTime = context.needsAuthTime && stored.sessionUid ? await context.lookup.sessionAuthTime(stored.sessionUid) : undefined;
  const principal = stored.kind === 'AccessToken' && stored.accountId ? 'user' : 'client';
  return {
    principal,
    issuer: context.ownIssuer,
    ownIssuer: true,
    sub: principal === 'user' ? stored.accountId! : stored.clientId,
    clientId: stored.clientId,
    audience: audienceOf(stored.aud),
    scopes: stored.scope ? stored.scope.split(' ') : [],
    act: readAct(extra.act),
    carriesAct: extra.act !== undefined || extra.impersonation !== undefined,
    mayAct: readMayAct(extra.may_act),
    expiresAt: stored.exp,
    authTime,
    impersonation: readImpersonation(extra.impersonation),
    claims: undefined,
    jkt: stored.jkt,
    grantId: stored.grantId,
    isAccessToken: true,
    tracked: true,
    ...(typeof (extra.delegation as { id?: unknown } | undefined)?.id === 'string' ? { delegationId: (extra.delegation as { id: string }).id } : {}),
  };
}

/** What this provider recorded of one of its signed tokens: its grant and the scope it may yield. */
interface Recorded {
  readonly tracked: boolean;
  readonly grantId: string | undefined;
  /** For an ID token, which carries no `scope`: the scope of the grant it was issued under. */
  readonly grantScopes?: readonly string[] | undefined;
}

/**
 * This provider records every JWT access token it issues by `jti` (exchanged ones, and its own
 * flows' through `extraTokenClaims`), so revocation shows although the JWT still verifies: one
 * without a live record, or whose grant is gone, was revoked (docs/introspection-revocation.md).
 */
async function recordedAccessToken(payload: JWTPayload, role: Role, context: VerifyContext): Promise<Recorded> {
  const grantId = typeof payload.jti === 'string' ? await context.lookup.jwtGrant(payload.jti) : undefined;
  if (grantId === undefined) throw invalidToken(role, 'JWT access token revoked, expired or never recorded');
  if (grantId === NO_GRANT) return { tracked: true, grantId: undefined };
  if (!(await context.lookup.grantExists(grantId))) throw invalidToken(role, 'grant revoked');
  return { tracked: true, grantId };
}

/**
 * An ID token carries no scope (OIDC Core §2): the limits it may pass on are those of the grant it
 * was issued under, recorded when this provider issued it (at its token endpoint, or by this grant).
 * One without a record is untracked (policy refuses it); one whose grant is gone was revoked.
 */
async function recordedIdToken(value: string, payload: JWTPayload, role: Role, context: VerifyContext): Promise<Recorded> {
  const grantId = await context.lookup.jwtGrant(idTokenRecordId(value, payload.jti));
  if (grantId === undefined || grantId === NO_GRANT) return { tracked: false, grantId: undefined };
  const grantScopes = await context.lookup.grantScopes(grantId);
  if (grantScopes === undefined) throw invalidToken(role, 'grant revoked');
  return { tracked: true, grantId, grantScopes };
}

/**
 * RFC 7519 §4.1.6 `iat` and OIDC Core §2 `auth_time` are instants that have passed: a token claiming
 * to be issued, or its user to have signed in, later than now (beyond the clock tolerance) would
 * make a stale sign-in look fresh (docs/policy.md `maxActorAuthAgeSeconds`).
 */
function assertNotFromTheFuture(payload: JWTPayload, role: Role, clockTolerance: number): void {
  const latest = Math.floor(Date.now() / 1000) + clockTolerance;
  for (const claim of ['iat', 'auth_time'] as const) {
    const value = payload[claim];
    if (value !== undefined && (typeof value !== 'number' || value > latest)) throw invalidToken(role, `${claim} in the future`);
  }
}

/** A signed JWT from this provider or a trusted issuer (RFC 7519 §7.2 validation via jose). */
async function verifySignedJwt(value: string, type: ActorTokenType | SubjectTokenType, role: Role, context: VerifyContext): Promise<VerifiedToken> {
  let issuer: string | undefined;
  try {
    issuer = decodeJwt(value).iss;
  } catch {
    throw invalidToken(role, 'not a JWT');
  }
  const keys = issuer ? context.keys.forIssuer(issuer) : undefined;
  if (!issuer || !keys) throw invalidToken(role, 'issuer is not trusted');
  let payload: JWTPayload;
  let typ: string | undefined;
  try {
    ({ payload, protectedHeader: { typ } } = await jwtVerify(value, keys, {
      issuer,
      clockTolerance: context.clockTolerance,
      requiredClaims: ['sub', 'exp'],
      ...(type === TokenType.accessToken ? { typ: 'at+jwt' } : {}),
    }));
  } catch (err) {
    const detail = err instanceof joseErrors.JOSEError ? err.code : 'verification failed';
    throw invalidToken(role, detail);
  }
  if (type === TokenType.idToken && typeof payload.iat !== 'number') {
    throw invalidToken(role, 'ID token without iat (OIDC Core §2)');
  }
  // RFC 8725 §3.11 explicit typing: an access token (RFC 9068 `at+jwt`) is never taken for an ID token.
  if (type === TokenType.idToken && typ === 'at+jwt') throw invalidToken(role, 'access token presented as an ID token');
  assertNotFromTheFuture(payload, role, context.clockTolerance);
  const own = context.keys.isOwn(issuer);
  const isAccessToken = typ === 'at+jwt';
  const recorded: Recorded = !own
    ? { tracked: false, grantId: undefined }
    : isAccessToken
      ? await recordedAccessToken(payload, role, context)
      : await recordedIdToken(value, payload, role, context);
  const clientId = typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : undefined;
  // RFC 9068 §2.2.3: an access token of this provider without `scope` holds none; an ID token, the
  // scope of its grant; a trusted issuer's JWT, what it says (no claim: no limit from it).
  const ownAccessScopes = own && isAccessToken ? [] : undefined;
  const scope = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : (recorded.grantScopes ?? ownAccessScopes);
  return {
    principal: own && clientId !== undefined && payload.sub === clientId && type === TokenType.accessToken ? 'client' : 'user',
    issuer,
    ownIssuer: own,
    sub: payload.sub!,
    clientId: own ? clientId ?? (type === TokenType.idToken ? audienceOf(payload.aud)[0] : undefined) : undefined,
    audience: audienceOf(payload.aud),
    scopes: scope,
    act: readAct(payload.act),
    carriesAct: payload.act !== undefined || payload.impersonation !== undefined,
    mayAct: readMayAct(payload.may_act),
    expiresAt: payload.exp!,
    authTime: typeof payload.auth_time === 'number' ? payload.auth_time : undefined,
    impersonation: readImpersonation(payload.impersonation),
    claims: payload,
    jkt: readJkt(payload.cnf),
    grantId: recorded.grantId,
    isAccessToken,
    tracked: recorded.tracked,
  };
}

/**
 * Verifies an actor or subject token of the given RFC 8693 type: signature, `iss`, `exp`, and for
 * this provider's own access tokens that the token and its grant are still stored (not revoked).
 */
export async function verifyToken(
  value: string,
  type: ActorTokenType | Exclude<SubjectTokenType, typeof TokenType.userId>,
  role: Role,
  context: VerifyContext,
): Promise<VerifiedToken> {
  if (type === TokenType.accessToken && !looksLikeJwt(value)) return verifyStoredToken(value, role, context);
  const verified = await verifySignedJwt(value, type, role, context);
  if (type === TokenType.accessToken && !verified.ownIssuer) throw invalidToken(role, 'access tokens are accepted from this provider only');
  return verified;
}

/**
 * RFC 8693 §2.1 leaves audience checks to the server; docs/grant.md: a token is acceptable from this
 * client when it was issued to it, or names it (or a resource it serves) in `aud`.
 */
export function isIssuedTo(token: VerifiedToken, clientId: string, servedResources: readonly string[]): boolean {
  if (token.clientId === clientId) return true;
  return token.audience.some((aud) => aud === clientId || servedResources.includes(aud));
}
