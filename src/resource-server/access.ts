import { actorChain as chainOf, readActStrict } from '../claims/act.js';
import type { DenialCode, Scheme } from './errors.js';

/** One actor of an RFC 8693 §4.1 `act` chain. */
export interface Actor {
  readonly sub: string;
  /** Present when the actor came from another issuer. */
  readonly iss?: string;
}

/** The impersonation facts this provider puts on a token an actor started (`impersonation` claim). */
export interface Impersonation {
  readonly id: string;
  readonly reason: string | undefined;
  /** Epoch seconds. */
  readonly startedAt: number | undefined;
  /** `read`: a read-only impersonation (`impersonation.mode`), refused every unsafe method by default. */
  readonly mode: 'read' | 'full';
}

/** What is known about the presented token: its verified claims or introspection answer, never its value. */
export interface TokenFacts {
  /** `jwt` when the token is a JWS, else `opaque`. */
  readonly format: 'jwt' | 'opaque';
  /** How it was verified: locally against the issuer's JWKS, or by RFC 7662 introspection. */
  readonly verifiedBy: 'jwt' | 'introspection';
  readonly scheme: Scheme;
  readonly id: string | undefined;
  readonly clientId: string | undefined;
  readonly issuer: string;
  readonly audience: readonly string[];
  readonly issuedAt: number | undefined;
  /** Epoch seconds. */
  readonly expiresAt: number;
  /** RFC 9449 §6 `cnf.jkt`: the thumbprint of the key the token is bound to. */
  readonly keyThumbprint: string | undefined;
  /** The verified JWT claims, or the introspection response. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** Who is calling: what `verifyRequest` answers for an accepted request. */
export interface VerifiedAccess {
  /** The user the token is for (`sub`). */
  readonly subject: string;
  /** The current actor (the outermost `act`, RFC 8693 §4.1), when someone acts for the subject. */
  readonly actor: string | undefined;
  /** Every actor, the current one first and the one who started it last. Empty without `act`. */
  readonly actorChain: readonly Actor[];
  readonly scopes: readonly string[];
  /** Present when an actor started an impersonation of the subject. */
  readonly impersonation: Impersonation | undefined;
  readonly token: TokenFacts;
}

/** The claims a token must carry, as either JWT claims or an introspection answer (RFC 9068 §2.2, RFC 7662 §2.2). */
export type ClaimsResult = { ok: true; access: VerifiedAccess } | { ok: false; code: DenialCode; detail: string };

/**
 * The most actors an `act` chain may name here: the provider's own ceiling (`policy.maxActors`,
 * at most 10). A deeper chain is refused, never cut short.
 */
export const MAX_ACTORS = 10;

function audienceOf(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

function impersonationOf(value: unknown): Impersonation | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { id, reason, started_at: startedAt, mode } = value as Record<string, unknown>;
  if (typeof id !== 'string') return undefined;
  return { id, reason: typeof reason === 'string' ? reason : undefined, startedAt: typeof startedAt === 'number' ? startedAt : undefined, mode: mode === 'read' ? 'read' : 'full' };
}

/**
 * Turns verified claims into {@link VerifiedAccess}. `act` is read strictly, at every depth: a token
 * whose `act` this cannot read whole (or that names more than {@link MAX_ACTORS} actors) is refused
 * rather than taken for one with fewer actors or none.
 */
export function accessFromClaims(claims: Record<string, unknown>, facts: Omit<TokenFacts, 'claims' | 'id' | 'clientId' | 'audience' | 'issuedAt' | 'expiresAt' | 'keyThumbprint'>): ClaimsResult {
  const { sub, scope, act, exp, iat, jti, client_id: clientId, cnf } = claims;
  if (typeof sub !== 'string' || sub === '') return { ok: false, code: 'token_claims', detail: 'sub missing' };
  if (typeof exp !== 'number') return { ok: false, code: 'token_claims', detail: 'exp missing' };
  const strict = act === undefined ? undefined : readActStrict(act, MAX_ACTORS);
  if (strict && !strict.ok) return { ok: false, code: 'token_act', detail: strict.reason === 'too_deep' ? `act names more than ${MAX_ACTORS} actors` : 'act is not an RFC 8693 actor claim at every depth' };
  const parsedAct = strict?.ok ? strict.act : undefined;
  if (scope !== undefined && typeof scope !== 'string') return { ok: false, code: 'token_claims', detail: 'scope is not a string' };
  const jkt = typeof cnf === 'object' && cnf !== null ? (cnf as { jkt?: unknown }).jkt : undefined;
  if (cnf !== undefined && typeof jkt !== 'string') return { ok: false, code: 'token_claims', detail: 'cnf without jkt' };
  const actorChain = chainOf(parsedAct).map(({ sub: actorSub, iss }): Actor => ({ sub: actorSub, ...(iss ? { iss } : {}) }));
  return {
    ok: true,
    access: {
      subject: sub,
      actor: actorChain[0]?.sub,
      actorChain,
      scopes: typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [],
      impersonation: impersonationOf(claims.impersonation),
      token: {
        ...facts,
        id: typeof jti === 'string' ? jti : undefined,
        clientId: typeof clientId === 'string' ? clientId : undefined,
        audience: audienceOf(claims.aud),
        issuedAt: typeof iat === 'number' ? iat : undefined,
        expiresAt: exp,
        keyThumbprint: jkt as string | undefined,
        claims: Object.freeze({ ...claims }),
      },
    },
  };
}

/** A guard's refusal: the request is authenticated but may not do this (403, RFC 6750 §3.1). */
export interface GuardRefusal {
  readonly code: 'scope_missing' | 'impersonated' | 'read_only';
  readonly scope?: string;
  readonly detail?: string;
}

/** What a guard may know of the request besides its token: the method and the absolute URL. */
export interface GuardRequest {
  readonly method: string;
  readonly url: string;
}

/** A check on an accepted request, run after verification: answers a refusal or nothing. */
export type Guard = (access: VerifiedAccess, request: GuardRequest) => GuardRefusal | undefined;

/** RFC 9110 §9.2.1: the safe methods. Method names are case-sensitive; anything else is unsafe. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

const OPTS_IN = Symbol('allowWhenReadOnly');

/** Whether the access is a read-only impersonation (`impersonation.mode` is `read`). */
export function isReadOnly(access: VerifiedAccess): boolean {
  return access.impersonation?.mode === 'read';
}

/**
 * Built into every verification: a read-only impersonation is refused every unsafe method
 * (RFC 9110 §9.2.1: anything but GET, HEAD, OPTIONS, TRACE) with 403 `insufficient_scope`, unless a
 * guard of the same call opts the request in with {@link allowWhenReadOnly}.
 */
export function readOnlyRefusal(access: VerifiedAccess, request: GuardRequest, guards: readonly Guard[]): GuardRefusal | undefined {
  if (!isReadOnly(access) || SAFE_METHODS.has(request.method)) return undefined;
  const optedIn = guards.some((guard) => (guard as Guard & { [OPTS_IN]?: (r: GuardRequest) => boolean })[OPTS_IN]?.(request) === true);
  return optedIn ? undefined : { code: 'read_only', detail: `${request.method} while read-only (impersonation ${access.impersonation!.id})` };
}

/**
 * Opts a route in to unsafe methods while impersonated read-only (e.g. a search API that takes
 * POST). Pass it among the guards of the call that verifies the route; `when` narrows it to some
 * requests — for an app-wide middleware, e.g. `allowWhenReadOnly((r) => new URL(r.url).pathname === '/search')`.
 */
export function allowWhenReadOnly(when: (request: GuardRequest) => boolean = () => true): Guard {
  const guard: Guard = () => undefined;
  return Object.assign(guard, { [OPTS_IN]: when });
}

/** Refuses a request whose token lacks any of `scopes` (403 `insufficient_scope`, RFC 6750 §3.1). */
export function requireScopes(...scopes: string[]): Guard {
  if (scopes.length === 0) throw new TypeError('requireScopes needs at least one scope');
  return (access) => {
    const missing = scopes.filter((s) => !access.scopes.includes(s));
    return missing.length ? { code: 'scope_missing', scope: scopes.join(' '), detail: `missing ${missing.join(' ')}` } : undefined;
  };
}

/**
 * Refuses a request made while someone other than the subject acts: a token with an `act` claim
 * (RFC 8693 §4.1) or impersonation facts. For routes an impersonator must never use — changing a
 * password, paying, deleting the account (403 `insufficient_scope`).
 */
export function denyWhenImpersonated(): Guard {
  return (access) =>
    access.actorChain.length > 0 || access.impersonation
      ? { code: 'impersonated', detail: `actor ${access.actor ?? '(impersonation claim)'}` }
      : undefined;
}
