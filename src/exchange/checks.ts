import type { DirectoryAccount } from '../accounts.js';
import type { ImpersonationPolicy } from '../config.js';
import { ADMIN_SCOPE } from '../constants.js';
import { ExchangeRefusal, invalidRequest, subjectRefused } from '../errors.js';
import { chainLength, type ActClaim } from '../claims/act.js';
import type { VerifiedToken } from './verify.js';

/*
 * Pure decisions of docs/policy.md. Each function enforces one rule family and throws the refusal that
 * names the rule; none performs I/O.
 */

/** docs/grant.md: an impersonated identity cannot start an impersonation. */
export function assertActorTokenUnchained(actor: VerifiedToken): void {
  if (actor.act) {
    throw invalidRequest('actor_token_carries_act', 'actor_token must not itself carry an act claim', `actor ${actor.sub} acts for someone already`);
  }
}

/**
 * Every token issued under an impersonation must end with each revocation
 * (docs/introspection-revocation.md). A subject token that acts for someone (`act`,
 * `impersonation`) is therefore accepted only as an access token whose grant this provider knows —
 * never an ID token (the client's proof of a sign-in, not a credential to pass on, RFC 8693 §4.1
 * chains access tokens) nor a JWT this provider cannot revoke.
 */
export function assertSubjectTokenRevocable(subject: VerifiedToken): void {
  if (subject.carriesAct && (subject.grantId === undefined || !subject.isAccessToken)) {
    throw invalidRequest('subject_token_unrevocable', 'a subject_token that carries act must be an access token of this provider', `${subject.ownIssuer ? 'untracked' : 'foreign'} token acting for ${subject.sub}`);
  }
}

/**
 * A token this provider signed yields nothing unless it recorded the token when it issued it: the
 * record names the grant the token came from — whose scope limits what the token yields
 * (RFC 8693 §2.1 leaves this to the server) and whose revocation ends everything derived from it.
 * ID tokens the provider hands out at its authorization endpoint (implicit and hybrid flows) or that
 * it issued before it recorded them are refused here; a trusted issuer's tokens are not concerned.
 */
export function assertTracked(token: VerifiedToken, role: 'actor' | 'subject'): void {
  if (!token.ownIssuer || token.tracked) return;
  const detail = 'an ID token of this provider without a record (not issued at its token endpoint, or its grant was revoked)';
  if (role === 'actor') throw invalidRequest('actor_token_untracked', 'actor_token is invalid, expired or revoked', detail);
  throw invalidRequest('subject_token_untracked', 'subject_token is invalid, expired or revoked', detail);
}

/**
 * docs/grant.md: exchanging an impersonation token can narrow it, never widen it. The subject token's
 * scope limits what is issued; when it acts for someone and its scope is unknown, it allows nothing.
 */
export function subjectScopeLimit(subject: VerifiedToken | undefined): readonly string[] | undefined {
  if (!subject) return undefined;
  return subject.scopes ?? (subject.carriesAct ? [] : undefined);
}

/** docs/policy.md: the actor's account exists, is enabled, holds an actor role, and (optionally) authenticated recently. */
export function assertActorMayImpersonate(
  account: DirectoryAccount | undefined,
  actor: Pick<VerifiedToken, 'sub' | 'authTime'>,
  policy: ImpersonationPolicy,
  now: number,
): DirectoryAccount {
  if (!account) throw invalidRequest('actor_unknown', 'the actor account does not exist', actor.sub);
  if (account.disabled) throw invalidRequest('actor_disabled', 'the actor account is disabled', account.id);
  const roles = new Set(account.roles);
  if (!policy.actorRoles.some((role) => roles.has(role))) {
    throw invalidRequest('actor_not_impersonator', 'the actor is not allowed to impersonate', `needs one of ${policy.actorRoles.join(', ')}`);
  }
  if (policy.maxActorAuthAgeSeconds !== undefined) {
    if (actor.authTime === undefined || now - actor.authTime > policy.maxActorAuthAgeSeconds) {
      throw invalidRequest(
        'actor_authentication_stale',
        'the actor must authenticate again before impersonating',
        actor.authTime === undefined ? 'no auth_time known' : `auth_time ${now - actor.authTime}s ago`,
      );
    }
  }
  return account;
}

/**
 * docs/policy.md: the subject exists and is enabled, is not the actor, holds no protected role, and shares
 * the actor's tenant unless the actor holds the global role. Every refusal reads the same.
 */
export function assertSubjectMayBeImpersonated(
  subject: DirectoryAccount | undefined,
  subjectId: string,
  actor: DirectoryAccount,
  policy: ImpersonationPolicy,
): DirectoryAccount {
  if (!subject) throw subjectRefused('subject_unknown', subjectId);
  if (subject.disabled) throw subjectRefused('subject_disabled', subject.id);
  if (subject.id === actor.id) throw subjectRefused('subject_is_actor', subject.id);
  const protectedRole = subject.roles.find((role) => policy.protectedRoles.includes(role));
  if (protectedRole) throw subjectRefused('subject_protected', `${subject.id} holds ${protectedRole}`);
  if (subject.tenant !== actor.tenant && !actor.roles.includes(policy.globalRole)) {
    throw subjectRefused('subject_other_tenant', `${actor.tenant ?? '(none)'} vs ${subject.tenant ?? '(none)'}`);
  }
  return subject;
}

/** Delegation without impersonation still needs the subject's account to be usable. */
export function assertSubjectActive(subject: DirectoryAccount | undefined, subjectId: string): DirectoryAccount {
  if (!subject) throw subjectRefused('subject_unknown', subjectId);
  if (subject.disabled) throw subjectRefused('subject_disabled', subject.id);
  return subject;
}

/** RFC 8693 §4.4: when the subject token names who may act for it, the actor must match. */
export function assertMayAct(
  mayAct: Record<string, unknown> | undefined,
  actor: { sub: string; iss: string | undefined; clientId: string },
): void {
  if (!mayAct) return;
  const matches =
    (mayAct.sub === undefined || mayAct.sub === actor.sub) &&
    (mayAct.iss === undefined || mayAct.iss === actor.iss) &&
    (mayAct.client_id === undefined || mayAct.client_id === actor.clientId) &&
    (mayAct.sub !== undefined || mayAct.client_id !== undefined);
  if (!matches) throw subjectRefused('subject_may_act', `may_act does not name ${actor.sub}`);
}

/** docs/grant.md: chains longer than the configured maximum number of actors are refused. */
export function assertChainLength(act: ActClaim, policy: ImpersonationPolicy): void {
  const length = chainLength(act);
  if (length > policy.maxActors) {
    throw invalidRequest('chain_too_long', 'the delegation chain is too long', `${length} actors, at most ${policy.maxActors}`);
  }
}

/**
 * docs/grant.md, docs/policy.md: what an impersonation may ever carry, whichever door it came through: the allow-list,
 * minus the deny-list, never `offline_access` (it is never refreshable) and never the admin scope
 * (an impersonated identity cannot administer impersonation).
 */
export function impersonationScopes(scopes: readonly string[], policy: ImpersonationPolicy): string[] {
  const { allow, deny } = policy.scopes;
  return scopes.filter((s) => (!allow || allow.includes(s)) && !deny.includes(s) && s !== 'offline_access' && s !== ADMIN_SCOPE);
}

/** Where a bound on an exchange's scope comes from; a refusal names the one that left nothing. */
export type ScopeLimitSource = 'subject_token' | 'client' | 'hook' | 'resource' | 'read_only' | 'approval';

/** One bound on the granted scope: `undefined` when that source sets none (e.g. a client without `scope`). */
export interface ScopeLimit {
  readonly source: ScopeLimitSource;
  readonly scopes: readonly string[] | undefined;
}

/** What the client reads when a bound leaves nothing (RFC 6749 §5.2 `invalid_scope`): which bound it was. */
const EMPTIED_BY: Record<ScopeLimitSource | 'policy', string> = {
  subject_token: "the subject_token's scope holds none of the requested scopes",
  client: "the client's registered scope holds none of the requested scopes",
  hook: 'none of the requested scopes may be granted for this subject',
  resource: 'the requested resource or audience serves none of the requested scopes',
  read_only: 'a read-only impersonation carries none of the requested scopes',
  approval: 'the subject approved none of the requested scopes',
  policy: 'the impersonation policy allows none of the requested scopes',
};

function scopeRefusal(description: string, detail: string): ExchangeRefusal {
  return new ExchangeRefusal('scope_empty', 'invalid_scope', description, { detail });
}

/**
 * docs/grant.md: issued scope = requested ∩ every known limit ∩ allow-list − deny-list, never
 * `offline_access` nor the admin API's scope. Without `scope`, the request asks for everything it may get (RFC 8693 §2.1):
 * the first limit that is set. When nothing is left, the `invalid_scope` refusal (RFC 6749 §5.2)
 * says why: nothing to take a scope from, the bound that removed the last scope, or offline_access.
 */
export function grantedScopes(input: {
  requested: readonly string[] | undefined;
  limits: readonly ScopeLimit[];
  policy: ImpersonationPolicy;
  impersonating: boolean;
}): string[] {
  const { requested, limits, policy, impersonating } = input;
  const known = limits.filter((l): l is ScopeLimit & { scopes: readonly string[] } => l.scopes !== undefined);
  const detail = [`requested ${requested ? requested.join(' ') || '(empty)' : '(none)'}`, ...known.map((l) => `${l.source} ${l.scopes.join(' ') || '(empty)'}`)].join('; ');
  if (!requested && known.length === 0) {
    throw scopeRefusal('no scope was requested and none can be derived: send scope, or a resource (RFC 8707) to take its scopes', detail);
  }
  let scopes = requested ? [...requested] : [...known[0]!.scopes];
  if (scopes.length === 0 && !requested) throw scopeRefusal(EMPTIED_BY[known[0]!.source], detail);
  for (const limit of known) {
    const left = scopes.filter((s) => limit.scopes.includes(s));
    if (left.length === 0 && scopes.length > 0) throw scopeRefusal(EMPTIED_BY[limit.source], detail);
    scopes = left;
  }
  if (impersonating) {
    const allowed = impersonationScopes(scopes, policy);
    if (allowed.length === 0 && scopes.some((s) => s !== 'offline_access')) throw scopeRefusal(EMPTIED_BY.policy, detail);
    scopes = allowed;
  }
  // Never refreshable; and no exchanged token carries the admin API's scope on (it would outlive the
  // administrator's own sign-in).
  const granted = scopes.filter((s) => s !== 'offline_access' && s !== ADMIN_SCOPE);
  if (granted.length === 0) {
    const never = scopes.filter((s) => s === 'offline_access' || s === ADMIN_SCOPE);
    throw scopeRefusal(never.length > 0 ? `${never.join(' and ')} ${never.length > 1 ? 'are' : 'is'} never granted by token exchange` : 'none of the requested scopes can be granted', detail);
  }
  return granted;
}

/**
 * docs/grant.md: lifetime = min(requested_expires_in, policy ceiling, remaining life of an incoming
 * impersonation token). An exchange can shorten an impersonation, never lengthen it.
 */
export function lifetimeSeconds(input: {
  requested: number | undefined;
  ceiling: number;
  incomingExpiresAt: number | undefined;
  now: number;
}): number {
  const candidates = [input.ceiling];
  if (input.requested !== undefined) candidates.push(input.requested);
  if (input.incomingExpiresAt !== undefined) candidates.push(input.incomingExpiresAt - input.now);
  const lifetime = Math.min(...candidates);
  if (lifetime < 1) throw invalidRequest('lifetime_exhausted', 'subject_token is invalid, expired or revoked', 'no lifetime left');
  return lifetime;
}
